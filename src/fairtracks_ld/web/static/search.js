// Search page: expand ontology value trees and autocomplete value names. Every link the server
// sends is a whole search URL; this script only fetches JSON and builds elements with
// textContent (never HTML from data).
"use strict";
const query = document.getElementById("term-input").dataset.query;

function valueItem(field, v) {
  const li = document.createElement("li");
  li.dataset.key = v.key;
  if (v.children) {
    const button = document.createElement("button");
    button.type = "button"; button.className = "expand"; button.textContent = "▸";
    button.setAttribute("aria-expanded", "false");
    li.appendChild(button);
  }
  const a = document.createElement("a");
  a.className = "value" + (v.selected ? " selected" : "");
  a.href = v.url; a.textContent = v.label;
  const count = document.createElement("span");
  count.className = "count"; count.textContent = v.count;
  li.append(a, count);
  return li;
}

document.getElementById("facets").addEventListener("click", async (event) => {
  const button = event.target.closest("button.expand");
  if (!button) return;
  const li = button.parentElement;
  const open = li.querySelector(":scope > ul");
  if (open) { open.remove(); button.textContent = "▸"; button.setAttribute("aria-expanded", "false"); return; }
  const field = li.closest("section.facet").dataset.field;
  const params = new URLSearchParams(query);
  params.set("field", field); params.set("value", li.dataset.key);
  const response = await fetch("/search/children?" + params.toString());
  const ul = document.createElement("ul");
  for (const v of await response.json()) ul.appendChild(valueItem(field, v));
  li.appendChild(ul);
  button.textContent = "▾"; button.setAttribute("aria-expanded", "true");
});

const input = document.getElementById("term-input");
const list = document.getElementById("suggestions");
let pending = 0;
input.addEventListener("input", async () => {
  const text = input.value.trim();
  const ticket = ++pending;
  if (!text) { list.replaceChildren(); return; }
  const params = new URLSearchParams(query);
  params.set("text", text);
  const response = await fetch("/search/terms?" + params.toString());
  if (ticket !== pending || !response.ok) return;
  const items = [];
  for (const s of await response.json()) {
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.className = "suggestion"; a.href = s.url; a.textContent = s.label;
    const detail = document.createElement("span");
    detail.className = "count";
    detail.textContent = `${s.field_title}${s.how !== "label" ? " · " + s.how + ": " + s.name : ""} · ${s.count}`;
    li.append(a, detail);
    items.push(li);
  }
  list.replaceChildren(...items);
});
