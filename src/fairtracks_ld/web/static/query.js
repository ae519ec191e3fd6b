// The query page: YASGUI with one tab per example query, against this server's /sparql only.
(function () {
  "use strict";
  var root = document.getElementById("yasgui");
  var examples = JSON.parse(document.getElementById("example-queries").textContent);
  var endpoint = new URL(root.dataset.endpoint, window.location.href).href;

  // Offline by design: no autocompleter that calls a remote service (LOV for classes and
  // properties); prefixes come from the list bundled in YASGUI, variables from the query.
  Yasgui.Yasqe.defaults.autocompleters = ["prefixes", "variables"];

  var yasgui = new Yasgui(root, {
    requestConfig: { endpoint: endpoint, method: "POST" },
    endpointCatalogueOptions: { getData: function () { return [{ endpoint: endpoint }]; }, keys: [] },
    copyEndpointOnNewTab: true,
    persistenceId: null,  // the examples, fresh on every visit
    autoAddOnInit: false,
    populateFromUrl: false,  // a ?query= link is opened below, in a tab of its own
  });

  // A query link (`/sparql?query=…` opened in a browser redirects here): its own tab, shown first.
  var linked = new URLSearchParams(window.location.search).get("query");

  var tabIds = examples.map(function (example, index) {
    var tab = yasgui.addTab(index === 0 && !linked, {
      name: example.name,
      yasqe: { value: example.query },
      requestConfig: { endpoint: endpoint },
    });
    return tab.getId();
  });
  if (linked) {
    yasgui.addTab(true, {
      name: "linked query", yasqe: { value: linked }, requestConfig: { endpoint: endpoint },
    });
  }
  if (Object.keys(yasgui._tabs).length === 0) {
    yasgui.addTab(true, { requestConfig: { endpoint: endpoint } });
  }

  function show(index) {
    if (tabIds[index] !== undefined) {
      yasgui.selectTabId(tabIds[index]);
      root.scrollIntoView();
    }
  }
  document.querySelectorAll(".example-link").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      show(Number(link.dataset.index));
    });
  });
  var wanted = examples.findIndex(function (e) { return "#" + e.name === window.location.hash; });
  if (wanted >= 0) show(wanted);
  window.fairtracksYasgui = yasgui;
})();
