// The streamrec demo page (/demo): pick or create a user, click items to post events, and watch
// the recommendations, trending list and history follow. Only the public HTTP API is used.
"use strict";

// Every API path the page calls, relative to /demo (a unit test checks they are documented).
const API = {
  events: "v1/events",
  items: "v1/items",
  trending: "v1/trending",
  recommendations: "v1/users/{user_id}/recommendations",
  history: "v1/users/{user_id}/history",
};
const POLL_MS = 2000;
const LIST_SIZE = 10;
const CATALOGUE_SIZE = 24;
const MAX_IDS = 100; // the most ids one GET /v1/items takes

const described = new Map(); // item_id -> {item_id, title, categories} from /v1/items
const state = { userId: "", refreshing: false, again: false, search: "" };
const $ = (id) => document.getElementById(id);

function url(path, params, query) {
  const filled = path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
  const search = new URLSearchParams(query || {}).toString();
  return search ? `${filled}?${search}` : filled;
}

async function call(target, options) {
  const response = await fetch(target, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const reason = body && body.error ? body.error.message : response.statusText;
    throw new Error(`${response.status}: ${reason}`);
  }
  return body;
}

function uniqueId(prefix) {
  const random = window.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Math.random()}`;
  return prefix + random.replace(/[^0-9a-f]/g, "").slice(0, 12);
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

// Fetch titles and categories of the items not described yet (ids with a comma cannot be listed).
// Best effort: without them an item shows its id.
async function describe(itemIds) {
  const missing = [...new Set(itemIds)].filter((id) => !described.has(id) && !id.includes(","));
  for (let start = 0; start < missing.length; start += MAX_IDS) {
    const ids = missing.slice(start, start + MAX_IDS);
    try {
      const body = await call(url(API.items, {}, { ids: ids.join(","), k: ids.length }));
      for (const item of body.items) described.set(item.item_id, item);
    } catch (error) {
      setStatus(`could not load titles: ${error.message}`, true);
    }
  }
}

function titleOf(itemId) {
  const item = described.get(itemId);
  return item && item.title ? item.title : itemId;
}

// One clickable item: its title, then its id and categories, then an optional detail line.
function itemButton(itemId, detail) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "item";
  button.dataset.itemId = itemId;
  button.title = `click to post a "${$("event-type").value}" event for ${itemId}`;
  const title = document.createElement("span");
  title.className = "title";
  title.textContent = titleOf(itemId);
  const meta = document.createElement("span");
  meta.className = "meta";
  const item = described.get(itemId);
  meta.textContent = [itemId, ...(item ? item.categories : [])].join(" · ");
  button.append(title, meta);
  if (detail) {
    const extra = document.createElement("span");
    extra.className = "detail";
    extra.textContent = detail;
    button.append(extra);
  }
  const row = document.createElement("li");
  row.append(button);
  return row;
}

// Replace a list's rows, unless nothing changed (so a click is not lost to a redraw).
function showList(listId, rows) {
  const list = $(listId);
  const key = JSON.stringify(rows);
  if (list.dataset.key === key) return;
  list.dataset.key = key;
  list.replaceChildren(...rows.map(([itemId, detail]) => itemButton(itemId, detail)));
}

function because(item) {
  const names = (item.because || []).map(titleOf);
  return names.length ? `because you watched ${names.join(", ")}` : "";
}

function describeAnswer(answer) {
  const source = { model: "personalised", trending: "trending", popular: "popular" };
  return `${source[answer.source] || answer.source} · model ${answer.model_version || "none yet"}`;
}

async function refreshRecommendations() {
  const userId = state.userId;
  if (!userId) return null;
  const answer = await call(url(API.recommendations, { user_id: userId }, { k: LIST_SIZE }));
  await describe(answer.items.flatMap((item) => [item.item_id, ...(item.because || [])]));
  if (userId !== state.userId) return null; // the user changed meanwhile
  showList("recommendations", answer.items.map((item) => [item.item_id, because(item)]));
  $("recommendations").dataset.source = answer.source;
  $("recommendations-note").textContent = describeAnswer(answer);
  return answer;
}

async function refreshTrending() {
  const answer = await call(url(API.trending, {}, { k: LIST_SIZE }));
  await describe(answer.items.map((item) => item.item_id));
  showList("trending", answer.items.map((item) => [item.item_id, ""]));
  $("trending-note").textContent = answer.items.length ? "" : "no events yet";
  return answer;
}

async function refreshHistory() {
  const userId = state.userId;
  if (!userId) return null;
  const answer = await call(url(API.history, { user_id: userId }, { limit: LIST_SIZE }));
  await describe(answer.events.map((event) => event.item_id));
  if (userId !== state.userId) return null;
  const when = (event) => new Date(event.timestamp).toLocaleTimeString();
  showList(
    "history",
    answer.events.map((event) => [event.item_id, `${event.event_type} at ${when(event)}`]),
  );
  $("history-note").textContent = answer.events.length ? "" : "nothing yet: click an item";
  return answer;
}

// Refresh every list; a failing one says so in its note and does not stop the others. A call
// while a refresh runs makes it run once more afterwards.
async function refresh() {
  if (state.refreshing) {
    state.again = true;
    return;
  }
  state.refreshing = true;
  state.again = false;
  try {
    const parts = [
      ["recommendations", refreshRecommendations],
      ["trending", refreshTrending],
      ["history", refreshHistory],
    ];
    const results = await Promise.allSettled(parts.map(([, load]) => load()));
    let degraded = false;
    let version = null;
    results.forEach((result, index) => {
      if (result.status === "rejected") {
        $(`${parts[index][0]}-note`).textContent = `could not load: ${result.reason.message}`;
      } else if (result.value) {
        degraded = degraded || Boolean(result.value.degraded);
        version = result.value.model_version || version;
      }
    });
    $("degraded").hidden = !degraded;
    const time = new Date().toLocaleTimeString();
    $("model-version").textContent = `model ${version || "none yet"} · updated ${time}`;
  } finally {
    state.refreshing = false;
  }
  if (state.again) refresh();
}

async function searchCatalogue() {
  const text = $("search").value.trim();
  state.search = text;
  try {
    const answer = await call(url(API.items, {}, { q: text, k: CATALOGUE_SIZE }));
    if (state.search !== text) return; // a newer search is under way
    for (const item of answer.items) described.set(item.item_id, item);
    showList("catalogue", answer.items.map((item) => [item.item_id, ""]));
    const empty = text ? "no title matches" : "no catalogue loaded: click trending items instead";
    $("catalogue-note").textContent = answer.items.length ? "" : empty;
  } catch (error) {
    $("catalogue-note").textContent = `could not search: ${error.message}`;
  }
}

function useUser(userId) {
  if (!userId) {
    setStatus("a user id needs at least one character", true);
    return;
  }
  state.userId = userId;
  $("user-id").value = userId;
  $("current-user").textContent = userId;
  for (const list of ["recommendations", "history"]) {
    $(list).replaceChildren();
    delete $(list).dataset.key;
  }
  history.replaceState(null, "", `?user=${encodeURIComponent(userId)}`);
  setStatus(`showing user ${userId}: click any item to ${$("event-type").value} it`);
  refresh();
}

async function postEvent(itemId) {
  if (!state.userId) {
    setStatus("pick or create a user first", true);
    return;
  }
  const event = {
    event_id: uniqueId("demo-"),
    user_id: state.userId,
    item_id: itemId,
    event_type: $("event-type").value,
    timestamp: new Date().toISOString(),
  };
  try {
    await call(API.events, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(event),
    });
  } catch (error) {
    setStatus(`the event was not accepted: ${error.message}`, true);
    return;
  }
  setStatus(`${event.event_type}: ${titleOf(itemId)} (accepted by Kafka)`);
  await refresh();
  setTimeout(refresh, 500); // the worker usually applies it within a few hundred ms
}

function start() {
  $("user-form").addEventListener("submit", (event) => {
    event.preventDefault();
    useUser($("user-id").value.trim());
  });
  $("new-user").addEventListener("click", () => useUser(uniqueId("demo-user-")));
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.item");
    if (button) postEvent(button.dataset.itemId);
  });
  let typing = null;
  $("search").addEventListener("input", () => {
    clearTimeout(typing);
    typing = setTimeout(searchCatalogue, 250);
  });
  const given = new URLSearchParams(location.search).get("user");
  if (given) useUser(given);
  else refresh();
  searchCatalogue();
  setInterval(refresh, POLL_MS);
}

start();
