// Validation page: send pasted text or chosen files to the validation API, then show each
// document (pretty-printed, one element per line) beside its report; every finding links to the
// line its JSON Pointer names. Elements are built with textContent only (never HTML from data).
"use strict";

const form = document.getElementById("input");
const statusLine = document.getElementById("status");
const results = document.getElementById("results");
const view = document.getElementById("document");
const reportBox = document.getElementById("report");
const chooser = document.getElementById("documents");

function escapeToken(token) { return token.replace(/~/g, "~0").replace(/\//g, "~1"); }

// The document as JSON.stringify(value, null, 2) would print it, and the line each pointer starts on.
function layout(root) {
  const lines = [], at = new Map();
  function emit(value, pointer, indent, prefix, suffix) {
    at.set(pointer, lines.length);
    const pad = "  ".repeat(indent);
    const isArray = Array.isArray(value);
    const keys = value && typeof value === "object" && !isArray ? Object.keys(value) : null;
    if (isArray && value.length) {
      lines.push(pad + prefix + "[");
      value.forEach((v, i) => emit(v, pointer + "/" + i, indent + 1, "", i < value.length - 1 ? "," : ""));
      lines.push(pad + "]" + suffix);
    } else if (keys && keys.length) {
      lines.push(pad + prefix + "{");
      keys.forEach((k, i) => emit(value[k], pointer + "/" + escapeToken(k), indent + 1,
                                  JSON.stringify(k) + ": ", i < keys.length - 1 ? "," : ""));
      lines.push(pad + "}" + suffix);
    } else {
      lines.push(pad + prefix + JSON.stringify(value) + suffix);
    }
  }
  emit(root, "", 0, "", "");
  return { lines, at };
}

// The line of a pointer, or of its nearest ancestor present (a missing key: its object).
function lineOf(printed, pointer) {
  let p = pointer || "";
  while (!printed.at.has(p) && p) p = p.slice(0, p.lastIndexOf("/"));
  return printed.at.get(p) ?? 0;
}

function element(tag, text, className) {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function highlight(index) {
  for (const old of view.querySelectorAll(".line.current")) old.classList.remove("current");
  const line = document.getElementById("L" + (index + 1));
  if (line) { line.classList.add("current"); line.scrollIntoView({ block: "center" }); }
}

function showDocument(entry) {
  view.replaceChildren();
  entry.printed = entry.document === undefined ? null : layout(entry.document);
  const lines = entry.printed ? entry.printed.lines : (entry.text || "").split("\n");
  lines.forEach((text, i) => {
    const line = element("span", text, "line");
    line.id = "L" + (i + 1);
    view.append(line);
  });
  if (!entry.printed && !entry.text) view.append(element("span", "(the document's text is not available here: it came inside an archive)", "line muted"));
}

function findingItem(entry, finding) {
  const li = element("li");
  li.className = "finding";
  li.append(element("span", finding.severity || "Violation", finding.severity || "Violation"), " ");
  const pointer = finding.path ?? "";
  if (entry.printed) {
    const index = lineOf(entry.printed, pointer);
    const link = element("a", (pointer || "/") + " (line " + (index + 1) + ")", "pointer");
    link.href = "#L" + (index + 1);
    link.dataset.line = index;
    link.addEventListener("click", (event) => { event.preventDefault(); highlight(index); });
    li.append(link);
    const line = document.getElementById("L" + (index + 1));
    if (line) line.classList.add(finding.severity === "Violation" || !finding.severity ? "violation" : "flagged");
  } else if (finding.path !== undefined) {
    li.append(element("code", pointer || "/", "pointer"));
  }
  li.append(": ", element("span", finding.message || finding.description, "message"));
  if (finding.value !== undefined && finding.value !== null) {
    li.append(" ", element("code", "(value: " + JSON.stringify(finding.value) + ")", "value"));
  }
  if (finding.hint) li.append(element("div", "Fix: " + finding.hint, "hint"));
  if (finding.also_causes && finding.also_causes.length) {  // reported under their cause
    const causes = element("ul", undefined, "causes");
    for (const caused of finding.also_causes) causes.append(findingItem(entry, caused));
    li.append(element("div", "also causes:", "also"), causes);
  }
  return li;
}

function showReport(entry) {
  reportBox.replaceChildren();
  const answer = entry.answer;
  const errors = answer.errors || [], warnings = answer.warnings || [];
  reportBox.append(element("h2", entry.name));
  const verdict = answer.validated ? "valid" : "invalid";
  reportBox.append(element("p", (answer.validated ? "Valid" : "Invalid") + ": " + errors.length +
    " violation(s), " + warnings.length + " warning(s)" + (answer.variant ? " [" + answer.variant + "]" : ""),
    "verdict " + verdict));
  const list = element("ol");
  list.id = "findings";
  for (const finding of [...errors, ...warnings]) list.append(findingItem(entry, finding));
  reportBox.append(list);
}

function select(entries, index) {
  chooser.querySelectorAll("button").forEach((b, i) => b.setAttribute("aria-pressed", String(i === index)));
  showDocument(entries[index]);
  showReport(entries[index]);
  results.hidden = false;
}

function showAll(entries) {
  chooser.replaceChildren();
  if (entries.length > 1) {
    entries.forEach((entry, i) => {
      const button = element("button", (entry.answer.validated ? "✓ " : "✗ ") + entry.name);
      button.type = "button";
      button.addEventListener("click", () => select(entries, i));
      chooser.append(button);
    });
  }
  select(entries, 0);
}

async function post(url, body) {
  const response = await fetch(url, { method: "POST", body, headers: { Accept: "application/json" } });
  const answer = await response.json();
  return { ok: response.ok, answer };
}

function parsed(text) {
  try { return JSON.parse(text); } catch { return undefined; }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const files = [...document.getElementById("files").files];
  const text = document.getElementById("text").value;
  statusLine.textContent = "validating…";
  try {
    let entries;
    if (files.length) {
      const data = new FormData();
      const byName = new Map();
      for (const file of files) {
        data.append("file", file, file.name);
        if (/\.json$/i.test(file.name)) {
          const content = await file.text();
          byName.set(file.name, { text: content, document: parsed(content) });
        }
      }
      const { answer } = await post(form.action, data);
      entries = answer.map((a) => ({ name: a.file || "(upload)", answer: a, ...(byName.get(a.file) || {}) }));
    } else if (text.trim()) {
      const { answer } = await post(form.action.replace(/\/multipart$/, ""), text);
      entries = [{ name: "pasted document", answer, text, document: parsed(text) }];
    } else {
      statusLine.textContent = "paste a document or choose files first";
      return;
    }
    statusLine.textContent = "";
    showAll(entries);
  } catch (error) {
    statusLine.textContent = "the validation failed: " + error;
  }
});
