// facerec door page: people, enrollment, the door view (camera snapshots or an uploaded photo), the recent visits
// (with their review), the log, and the photo library (groups of unnamed faces to name, merge, or remove a face
// from).
// With the server's flatness check on, the camera sends bursts to /api/door/check and asks a still face to turn.
// Plain JavaScript, no build step, no CDN. Talks to the REST API of facerec serve (see /docs).
"use strict";

const $ = (id) => document.getElementById(id);
let token = localStorage.getItem("facerec-token") || "";
let cameraTimer = null;
let busy = false;

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  if (token) headers["Authorization"] = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    $("token-box").hidden = false;
  }
  const type = response.headers.get("content-type") || "";
  const body = type.includes("application/json") ? await response.json() : await response.blob();
  if (!response.ok) {
    const error = new Error(body.message || response.statusText);
    error.status = response.status;
    throw error;
  }
  return body;
}

function element(tag, attributes = {}, text = "") {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  if (text) node.textContent = text;
  return node;
}

async function refreshStatus() {
  try {
    const health = await api("/api/health");
    const warning = health.writable === false ? ` (${health.message}: the door identifies, its log is not written)` : "";
    $("status").textContent = `${health.people} people enrolled, ${health.encoder} encoder${warning}`;
  } catch (error) {
    $("status").textContent = "server unreachable: " + error.message;
  }
}

async function refreshPeople() {
  const box = $("people");
  let people;
  try {
    people = await api("/api/people");
  } catch (error) {
    box.textContent = error.message;
    return;
  }
  box.replaceChildren();
  for (const person of people) {
    const card = element("div", { class: "person", "data-name": person.name });
    const picture = element("div", { class: "blank" });
    card.append(picture, element("div", { class: "name" }, `${person.name} (${person.faces})`));
    const remove = element("button", { type: "button" }, "remove");
    remove.addEventListener("click", () => removePerson(person.name));
    card.append(remove);
    box.append(card);
    api(`/api/people/${encodeURIComponent(person.name)}/thumbnail`).then((blob) => {
      const image = element("img", { alt: person.name });
      image.src = URL.createObjectURL(blob);
      picture.replaceWith(image);
    }).catch(() => {});
  }
}

async function removePerson(name) {
  if (!confirm(`Remove ${name} and all their photos?`)) return;
  try {
    await api(`/api/people/${encodeURIComponent(name)}`, { method: "DELETE" });
  } catch (error) {
    $("enroll-result").textContent = error.message;
  }
  refreshPeople();
  refreshStatus();
}

async function enroll(event) {
  event.preventDefault();
  const name = $("enroll-name").value.trim();
  const files = $("enroll-photos").files;
  const form = new FormData();
  for (const file of files) form.append("photos", file, file.name);
  $("enroll-result").textContent = "enrolling...";
  try {
    const result = await api(`/api/people/${encodeURIComponent(name)}/faces`, { method: "POST", body: form });
    const skipped = result.skipped.map((s) => `${s.file}: ${s.reason}`).join("; ");
    $("enroll-result").textContent = `enrolled ${result.enrolled.length} photo(s) of ${result.name}` +
      (skipped ? `; skipped ${skipped}` : "");
    $("enroll-form").reset();
  } catch (error) {
    $("enroll-result").textContent = error.message;
  }
  refreshPeople();
  refreshStatus();
}

function drawFaces(source, result) {
  const canvas = $("door-canvas");
  const context = canvas.getContext("2d");
  const scale = Math.max(1, 480 / result.width);  // small photos are drawn larger, boxes with them
  canvas.width = Math.round(result.width * scale);
  canvas.height = Math.round(result.height * scale);
  context.drawImage(source, 0, 0, canvas.width, canvas.height);
  const list = $("door-faces");
  list.replaceChildren();
  context.lineWidth = Math.max(2, canvas.width / 240);
  context.font = `${Math.max(16, Math.round(canvas.width / 24))}px system-ui, sans-serif`;
  for (const face of result.faces) {
    const [left, top, right, bottom] = face.box.map((value) => value * scale);
    const known = face.identity !== null;
    const label = known ? face.identity : "unknown";
    context.strokeStyle = context.fillStyle = known ? "#2fbf4a" : "#e5392f";
    context.strokeRect(left, top, right - left, bottom - top);
    context.fillText(`${label} ${face.distance.toFixed(2)}`, left, Math.max(16, top - 6));
    list.append(element("li", { class: known ? "known" : "unknown" },
      `${label} (distance ${face.distance.toFixed(3)}, threshold ${face.threshold.toFixed(3)})`));
  }
  const promise = result.faces.length ? result.faces[0].promise : null;  // issue 23: the measured stranger rate
  if (promise) {
    list.append(element("li", { class: "promise" }, promise.text));
  }
}

async function identify(blob, source) {
  const form = new FormData();
  form.append("photo", blob, "camera.jpg");
  try {
    const result = await api("/api/identify", { method: "POST", body: form });
    drawFaces(source, result);
    $("door-message").textContent = result.faces.length ? "" : "nobody";
  } catch (error) {
    $("door-faces").replaceChildren();
    $("door-message").textContent = error.message;
  }
  refreshLog();
}

async function identifyUpload() {
  const file = $("door-photo").files[0];
  if (!file) return;
  const bitmap = await createImageBitmap(file);
  await identify(file, bitmap);
}

function grabFrame(video) {
  const frame = element("canvas");
  frame.width = video.videoWidth || 640;
  frame.height = video.videoHeight || 480;
  frame.getContext("2d").drawImage(video, 0, 0, frame.width, frame.height);
  return frame;
}

const jpeg = (frame) => new Promise((resolve) => frame.toBlob(resolve, "image/jpeg", 0.9));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function snapshot() {
  if (busy) return;
  busy = true;
  try {
    if (doorCheck && doorCheck.flat_check) {
      await checkBursts();
    } else {
      const frame = grabFrame($("camera"));
      const blob = await jpeg(frame);
      if (blob) await identify(blob, frame);
    }
  } finally {
    busy = false;
  }
}

// --- the flatness check (issue 24): a burst of frames instead of one snapshot, and the challenge ---
let doorCheck = null;  // GET /api/door/check: {flat_check, burst_frames, burst_seconds, challenge}
const CHALLENGE_RETRIES = 2;  // new bursts asked for while the face stays still, before the decision is shown

async function loadDoorCheck() {
  try {
    doorCheck = await api("/api/door/check");
  } catch (error) {
    doorCheck = null;  // a key without the door role, or an older server: single snapshots
  }
}

async function grabBurst() {
  const video = $("camera");
  const frames = [];
  const pause = (1000 * doorCheck.burst_seconds) / doorCheck.burst_frames;
  for (let i = 0; i < doorCheck.burst_frames; i++) {
    const frame = grabFrame(video);
    frames.push({ frame, blob: await jpeg(frame) });
    if (i + 1 < doorCheck.burst_frames) await sleep(pause);
  }
  return frames.filter((item) => item.blob);
}

async function checkBursts() {
  let result = null;
  let last = null;
  try {
    for (let attempt = 0; attempt <= CHALLENGE_RETRIES; attempt++) {
      const frames = await grabBurst();
      if (!frames.length) return;
      const form = new FormData();
      frames.forEach((item, i) => form.append("frames", item.blob, `frame-${i}.jpg`));
      result = await api("/api/door/check", { method: "POST", body: form });
      last = frames[frames.length - 1].frame;
      showChallenge(result.challenge);
      if (!result.challenge || attempt === CHALLENGE_RETRIES || !cameraTimer) break;
    }
    drawCheck(last, result);
  } catch (error) {
    $("door-faces").replaceChildren();
    $("door-message").textContent = error.message;
  }
  refreshLog();
  refreshVisits();
}

function showChallenge(challenge) {
  const box = $("door-challenge");
  box.hidden = !challenge;
  box.textContent = challenge ? challenge.charAt(0).toUpperCase() + challenge.slice(1) : "";
}

function drawCheck(frame, result) {
  const face = { box: result.box, identity: result.admitted ? result.identity : null,
    distance: result.distance === null ? Infinity : result.distance, threshold: result.threshold,
    promise: result.promise };
  drawFaces(frame, { faces: [face], width: result.width, height: result.height });
  const flat = result.flat === true ? "flat: refused (a photo or a screen?)"
    : result.flat === false ? "a real head" : "flat or not: cannot tell";
  $("door-faces").append(element("li", { class: result.flat === true ? "unknown flat" : "promise flat" },
    `${flat}: ${result.flatness.reason}`));
  $("door-message").textContent = "";
}

async function startCamera() {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    $("door-message").textContent = "no camera here: use the photo upload";
    return;
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
    $("camera").srcObject = stream;
    await $("camera").play();  // a hidden element's autoplay does not start: Chromium would draw black frames
    $("camera-start").hidden = true;
    $("camera-stop").hidden = false;
    await loadDoorCheck();
    cameraTimer = setInterval(snapshot, 1000);
  } catch (error) {
    $("door-message").textContent = "camera refused (" + error.message + "): use the photo upload";
  }
}

function stopCamera() {
  clearInterval(cameraTimer);
  const stream = $("camera").srcObject;
  if (stream) stream.getTracks().forEach((track) => track.stop());
  cameraTimer = null;
  $("camera").srcObject = null;
  $("camera-start").hidden = false;
  $("camera-stop").hidden = true;
}

async function refreshLog() {
  let events;
  try {
    events = await api("/api/log?limit=20");
  } catch (error) {
    return;
  }
  const body = $("log-table").querySelector("tbody");
  body.replaceChildren();
  for (const event of events) {
    const row = element("tr");
    row.append(element("td", {}, event.time), element("td", {}, event.identity || "unknown"),
      element("td", {}, event.distance.toFixed(3)),
      element("td", { class: event.admitted ? "admitted" : "refused" }, event.admitted ? "admitted" : "refused"));
    body.append(row);
  }
}

function visitCard(visit) {
  const card = element("div", { class: "visit", "data-visit": String(visit.visit) });
  const picture = element("div", { class: "blank" });
  const who = visit.identity || "unknown";
  const distance = visit.distance === null ? "no distance" : visit.distance.toFixed(3);
  card.append(picture,
    element("div", { class: "decision " + (visit.admitted ? "admitted" : "refused") },
      `${who}: ${visit.admitted ? "admitted" : "refused"}, ${distance}`),
    element("div", { class: "when" }, `${visit.start.slice(0, 19).replace("T", " ")} UTC, ${visit.frames} frame(s)` +
      (visit.flat === true ? ", a flat surface" : "")),
    element("div", { class: "promise" }, (visit.operating_point ? `threshold ${visit.operating_point}` : "") +
      (visit.promise ? `; ${visit.promise.text}` : "")));
  if (visit.review) {
    card.append(element("div", { class: "review" },
      visit.review.stranger ? "reviewed: not anyone we know" : `reviewed: this is ${visit.review.name}`));
  }
  const name = element("input", { type: "text", class: "assign-name", placeholder: "name" });
  const thisIs = element("button", { type: "button", class: "assign" }, "this is...");
  const stranger = element("button", { type: "button", class: "stranger" }, "not anyone we know");
  thisIs.addEventListener("click", () => assignVisit(visit.visit, { name: name.value.trim() }));
  stranger.addEventListener("click", () => assignVisit(visit.visit, { stranger: true }));
  card.append(name, thisIs, stranger);
  if (visit.crop) {
    api(`/api/visits/${visit.visit}/crop`).then((blob) => {
      const image = element("img", { alt: `visit ${visit.visit}` });
      image.src = URL.createObjectURL(blob);
      picture.replaceWith(image);
    }).catch(() => {});
  }
  return card;
}

let shownVisits = "";

async function refreshVisits() {
  let visits;
  try {
    visits = await api("/api/visits?limit=12");
  } catch (error) {
    return;
  }
  const key = JSON.stringify(visits);
  if (key === shownVisits) return; // unchanged: keep what is being typed
  shownVisits = key;
  $("visits").replaceChildren(...visits.map(visitCard));
}

async function assignVisit(visit, body) {
  if (body.name === "") {
    $("visits-message").textContent = "type the person's name first";
    return;
  }
  try {
    const result = await api(`/api/visits/${visit}/assign`, {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    $("visits-message").textContent = result.stranger ? `visit ${visit} kept as a known stranger` :
      `visit ${visit}: enrolled to ${result.name}` + (result.enrolled.length ? "" : " (already enrolled)");
  } catch (error) {
    $("visits-message").textContent = error.message;
  }
  shownVisits = "";
  refreshVisits();
  refreshPeople();
  refreshStatus();
}

// -- the photo library: groups of unnamed faces, name / merge / remove-face actions --------------------------

function libraryForm(group, label, placeholder, submit) {
  const form = element("form", { class: "library-" + label, "data-group": group.group });
  const input = element("input", { type: "text", placeholder, required: "" });
  form.append(input, element("button", { type: "submit" }, label));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(input.value.trim());
  });
  return form;
}

function faceCard(face) {
  const card = element("div", { class: "face", "data-face": face.face });
  const picture = element("div", { class: "blank" });
  const remove = element("button", { type: "button", title: "not this person: out of the group" }, "remove");
  remove.addEventListener("click", () => libraryAction(`/api/library/faces/${face.face}/move`, { group: "none" },
    `face ${face.face} removed from its group`));
  card.append(picture, remove);
  api(`/api/library/faces/${face.face}/crop`).then((blob) => {
    const image = element("img", { alt: `face ${face.face}` });
    image.src = URL.createObjectURL(blob);
    picture.replaceWith(image);
  }).catch(() => {});
  return card;
}

function groupCard(group) {
  const card = element("div", { class: "group", "data-group": group.group });
  const maybe = group.maybe ? ` (maybe ${group.maybe}, distance ${group.maybe_distance.toFixed(2)})` : "";
  card.append(element("h3", {}, `group ${group.group}: ${group.faces.length} faces${maybe}`));
  const faces = element("div", { class: "faces" });
  for (const face of group.faces) faces.append(faceCard(face));
  card.append(faces);
  card.append(libraryForm(group, "name", group.maybe || "name", (name) =>
    libraryAction(`/api/library/groups/${group.group}/name`, { name }, `group ${group.group} named ${name}`)));
  card.append(libraryForm(group, "merge", "merge group number into this one", (other) =>
    libraryAction(`/api/library/groups/${group.group}/merge`, { other }, `group ${other} merged into ${group.group}`)));
  return card;
}

function showGroups(groups) {
  const box = $("library-groups");
  box.replaceChildren(...groups.map(groupCard));
  if (!groups.length) box.textContent = "no unnamed groups (index photos with facerec index, then group them)";
}

async function refreshLibrary() {
  try {
    showGroups((await api("/api/library/groups")).groups);
  } catch (error) {
    $("library-message").textContent = error.message;
  }
}

async function libraryAction(path, fields, done) {
  const form = new FormData();
  for (const [key, value] of Object.entries(fields)) form.append(key, value);
  try {
    await api(path, { method: "POST", body: form });
    $("library-message").textContent = done;
  } catch (error) {
    $("library-message").textContent = error.message;
  }
  refreshLibrary();
  refreshPeople();
  refreshStatus();
}

async function clusterLibrary() {
  $("library-message").textContent = "grouping...";
  try {
    const result = await api("/api/library/cluster", { method: "POST" });
    showGroups(result.groups);
    $("library-message").textContent = `${result.groups.length} groups`;
  } catch (error) {
    $("library-message").textContent = error.message;
  }
}

$("library-cluster").addEventListener("click", clusterLibrary);
$("library-refresh").addEventListener("click", refreshLibrary);

$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  token = $("token").value;
  localStorage.setItem("facerec-token", token);
  $("token-box").hidden = true;
  refreshAll();
});
$("enroll-form").addEventListener("submit", enroll);
$("door-photo").addEventListener("change", identifyUpload);
$("camera-start").addEventListener("click", startCamera);
$("camera-stop").addEventListener("click", stopCamera);

function refreshAll() {
  refreshStatus();
  refreshPeople();
  refreshLog();
  refreshVisits();
  refreshLibrary();
}
refreshAll();
setInterval(refreshLog, 5000);
setInterval(refreshVisits, 5000);
