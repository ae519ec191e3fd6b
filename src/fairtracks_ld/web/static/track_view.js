// The embedded genome view of a track page. Nothing loads until the reader asks (#igv-load):
// then igv.js (vendored, /static/igv/) is loaded from this server and draws the reference and the
// track's file, both fetched by the reader's browser; the server never fetches the file.
// The outcome shows in #igv-status and in the view's data-state (tests read it).
(function () {
  const holder = document.getElementById("igv-view");
  const button = document.getElementById("igv-load");
  const status = document.getElementById("igv-status");
  if (!holder || !button || !status) return;

  const fail = (what, error) => {
    holder.dataset.state = "failed";
    status.textContent = `Your browser could not load ${what}: ${(error && error.message) || error}. ` +
      "The provider may not let other sites read the file (CORS) or read parts of it " +
      "(HTTP range requests): download the file or open it in a genome browser instead.";
  };
  const script = (src) => new Promise((resolve, reject) => {
    const element = document.createElement("script");
    element.src = src;
    element.onload = resolve;
    element.onerror = () => reject(new Error(`${src} did not load`));
    document.head.appendChild(element);
  });

  button.addEventListener("click", async () => {
    button.disabled = true;
    holder.dataset.state = "loading";
    status.textContent = "Loading…";
    const { tracks, ...options } = JSON.parse(holder.dataset.config);
    try {
      if (typeof igv === "undefined") await script("/static/igv/igv.min.js");
    } catch (error) { fail("the genome viewer (igv.js)", error); return; }
    let browser;
    try {
      browser = await igv.createBrowser(holder, options);
    } catch (error) { fail("the reference genome", error); return; }
    try {
      for (const track of tracks) await browser.loadTrack(track);
    } catch (error) { fail("the track's file", error); return; }
    holder.dataset.state = "ready";
    holder.dataset.tracks = String(tracks.length);
    status.textContent = "Your browser loaded this file from its provider.";
  });
})();
