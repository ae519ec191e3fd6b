// The embedded genome view of a track page: igv.js (vendored under /static/igv/) loads the
// reference and the track's file in the reader's browser; the server never fetches the file.
// The page says what happened in #igv-status and in the view's data-state (tests read it).
(async function () {
  const holder = document.getElementById("igv-view");
  const source = document.getElementById("igv-config");
  const status = document.getElementById("igv-status");
  if (!holder || !source || !status) return;
  const { tracks, ...options } = JSON.parse(source.textContent);
  const fail = (what, error) => {
    holder.dataset.state = "failed";
    status.textContent = `Your browser could not load ${what}: ${error && error.message || error}. ` +
      "The provider may not allow other sites to read the file (CORS) or to read parts of it " +
      "(HTTP range requests); download the file or use a genome browser link instead.";
  };
  if (typeof igv === "undefined") { fail("the genome viewer (igv.js)", "script missing"); return; }
  let browser;
  try {
    browser = await igv.createBrowser(holder, { ...options, showNavigation: true });
  } catch (error) { fail("the reference genome", error); return; }
  try {
    for (const track of tracks) await browser.loadTrack(track);
  } catch (error) { fail("the track's file", error); return; }
  holder.dataset.state = "ready";
  holder.dataset.tracks = String(tracks.length);
  status.textContent = "Your browser loaded this file from its provider.";
})();
