// hake's page: upload a photo or video to /v1/infer and show what came back. No framework, no CDN.
"use strict";
const $ = (id) => document.getElementById(id);
const GROUPS = ["foot", "leg", "hip", "hand", "arm", "head"];

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

function activities(frame, index) {
  const seen = new Map();
  for (const h of frame.hois || []) {
    if (h.person !== index || h.verb === "no_interaction") continue;
    const name = (h.verb + " " + h.object).replaceAll("_", " ");
    if (!seen.has(name) || seen.get(name) < h.score) seen.set(name, h.score);
  }
  return [...seen.entries()].sort((a, b) => b[1] - a[1]).slice(0, 5);
}

function showPersons(frame) {
  const box = $("persons");
  box.replaceChildren();
  if (!frame.persons.length) box.append(el("p", "none", "No person found."));
  frame.persons.forEach((p, i) => {
    const card = el("div", "person");
    const id = p.track_id === null || p.track_id === undefined ? "" : " (track " + p.track_id + ")";
    card.append(el("h3", "", "Person " + (i + 1) + id + " — " + p.score.toFixed(2)));
    for (const g of GROUPS) {
      const states = (p.pasta[g] || []).filter((s) => s.prob >= 0.05);
      if (!states.length) continue;
      card.append(el("div", "group", g));
      for (const s of states) {
        const bar = el("div", "bar part-state");
        const fill = el("span");
        fill.style.width = Math.round(100 * s.prob) + "%";
        bar.append(fill, el("label", "", s.state + " " + s.prob.toFixed(2)));
        bar.title = g + ": " + s.state;
        card.append(bar);
      }
    }
    const acts = activities(frame, i);
    card.append(el("div", "group", "activities"));
    if (!acts.length) card.append(el("div", "activity", "—"));
    for (const [name, score] of acts) card.append(el("div", "activity", name + " " + score.toFixed(2)));
    box.append(card);
  });
}

function showVideo(data) {
  $("video").hidden = false;
  if (data.timeline) $("timeline").src = data.timeline;
  const body = $("segments").querySelector("tbody");
  body.replaceChildren();
  for (const s of data.segments.segments) {
    const row = el("tr");
    for (const v of [s.track_id, (s.verb + " " + s.object).replaceAll("_", " "), s.start_s, s.end_s,
                     s.mean_score.toFixed(3)]) row.append(el("td", "", String(v)));
    body.append(row);
  }
  // the persons shown are those of the frame in the overlay: the one with the most persons
  let best = 0;
  data.frames.forEach((f, i) => { if (f.persons.length > data.frames[best].persons.length) best = i; });
  return data.frames[best] || { persons: [], hois: [] };
}

async function upload(file) {
  const status = $("status");
  status.className = "";
  status.textContent = "Analysing " + file.name + " …";
  const form = new FormData();
  form.append("file", file, file.name);
  let response, data;
  try {
    response = await fetch("/v1/infer?vis=true", { method: "POST", body: form });
    data = await response.json();
  } catch (err) {
    status.className = "error";
    status.textContent = "The server did not answer: " + err;
    return;
  }
  if (!response.ok) {
    status.className = "error";
    status.textContent = "Error " + response.status + ": " + (data.detail || "unknown");
    return;
  }
  const json = Object.assign({}, data);
  delete json.overlay;
  delete json.timeline;
  const link = $("download");
  if (link.href.startsWith("blob:")) URL.revokeObjectURL(link.href);
  link.href = URL.createObjectURL(new Blob([JSON.stringify(json, null, 1)], { type: "application/json" }));
  link.download = file.name.replace(/\.[^.]*$/, "") + ".json";
  $("video").hidden = true;
  const frame = data.kind === "video" ? showVideo(data) : data;
  $("overlay").src = data.overlay;
  showPersons(frame);
  $("result").hidden = false;
  const n = frame.persons.length;
  status.textContent = file.name + ": " + n + (n === 1 ? " person" : " persons") +
    (data.kind === "video" ? ", " + data.frames.length + " frames, " + data.segments.segments.length + " segments" : "");
  status.dataset.done = "1";
}

$("file").addEventListener("change", (e) => { if (e.target.files.length) upload(e.target.files[0]); });
const drop = $("drop");
drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
drop.addEventListener("dragleave", () => drop.classList.remove("over"));
drop.addEventListener("drop", (e) => {
  e.preventDefault();
  drop.classList.remove("over");
  if (e.dataTransfer.files.length) upload(e.dataTransfer.files[0]);
});
