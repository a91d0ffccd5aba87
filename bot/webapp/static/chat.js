// The chat page: one WebSocket, the answer streamed as plain text, replaced by the server's sanitized HTML when done.
const log = document.getElementById("log");
const form = document.getElementById("composer");
const field = document.getElementById("text");
const send = document.getElementById("send");
const stop = document.getElementById("stop");
const status = document.getElementById("status");
const announce = document.getElementById("announce");
let socket = null;
let current = null; // the answer being written: {item, body}

function item(role, text) {
  const li = document.createElement("li");
  li.className = `msg ${role}`;
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = role === "user" ? "You" : document.querySelector(".brand").textContent;
  const body = document.createElement("div");
  body.className = "body plain"; // text as typed or streamed; the final answer's HTML replaces it
  body.textContent = text;
  li.append(who, body);
  log.append(li);
  li.scrollIntoView({ block: "end" });
  return { item: li, body };
}

function shaped(memories) {
  // Under an answer, the memories recall put into its context: as the page's _shaped.html lists them after a reload.
  const details = document.createElement("details");
  details.className = "shaped";
  const summary = document.createElement("summary");
  summary.textContent = `Memories that shaped this answer (${memories.length})`;
  const list = document.createElement("ul");
  for (const m of memories) {
    const li = document.createElement("li");
    const meta = document.createElement("span");
    meta.className = "meta";
    meta.textContent = `(noted ${m.when}${m.current ? "" : "; since replaced by a newer fact"})`;
    li.append(`${m.text} `, meta);
    list.append(li);
  }
  details.append(summary, list);
  return details;
}

function buttons(list) {
  // Under a message the assistant sent by itself (a reminder): Done, Snooze, Reschedule. A press runs the command.
  const row = document.createElement("div");
  row.className = "buttons";
  row.setAttribute("role", "group");
  row.setAttribute("aria-label", "Actions");
  for (const b of list) {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = b.label;
    button.dataset.action = b.action;
    button.addEventListener("click", () => {
      if (!socket || socket.readyState !== WebSocket.OPEN) return;
      for (const other of row.querySelectorAll("button")) other.disabled = true;
      socket.send(JSON.stringify({ type: "press", action: b.action }));
    });
    row.append(button);
  }
  return row;
}

function busy(on) {
  send.disabled = on;
  stop.hidden = !on;
  log.setAttribute("aria-busy", on ? "true" : "false");
}

function finish(text) {
  busy(false);
  status.textContent = "";
  if (text) announce.textContent = text;
  current = null;
  field.focus();
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  send.disabled = true; // until the socket is open: a message typed meanwhile stays in the box
  socket = new WebSocket(`${scheme}://${location.host}/ws/chat`);
  socket.addEventListener("open", () => {
    send.disabled = false;
  });
  socket.addEventListener("message", (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === "resume") {
      // An answer was being written when this page opened (a reload): it goes on here.
      current = item("assistant", frame.text);
      if (frame.id) current.item.dataset.id = frame.id;
      status.textContent = frame.status || "";
      busy(true);
    } else if (frame.type === "started") {
      current = item("assistant", "");
      current.item.dataset.id = frame.id;
    } else if (frame.type === "delta") {
      if (!current) current = item("assistant", "");
      current.body.textContent += frame.text;
      current.item.scrollIntoView({ block: "end" });
    } else if (frame.type === "status") {
      status.textContent = frame.text;
    } else if (frame.type === "done") {
      if (!current) current = item("assistant", "");
      current.body.innerHTML = frame.html; // sanitized on the server (Python-Markdown + nh3)
      current.body.classList.remove("plain");
      current.item.classList.add("complete");
      if (frame.recalled && frame.recalled.length) current.item.append(shaped(frame.recalled));
      finish(`Answer: ${current.body.textContent}`);
    } else if (frame.type === "spoken") {
      // The assistant speaking first (a reminder): its own message, whatever answer is being written.
      const said = item("assistant", "");
      said.body.innerHTML = frame.html; // sanitized on the server, as a finished answer
      said.body.classList.remove("plain");
      said.item.classList.add("complete", "spoken");
      if (frame.buttons && frame.buttons.length) said.item.append(buttons(frame.buttons));
      if (current) log.append(current.item); // an answer being written stays last
      announce.textContent = `${document.querySelector(".brand").textContent}: ${said.body.textContent}`;
    } else if (frame.type === "command") {
      // A command's reply (/reminders, /settings…): for this person only, as on any platform; not stored.
      const reply = item("assistant", "");
      reply.body.innerHTML = frame.html; // sanitized on the server
      reply.body.classList.remove("plain");
      reply.item.classList.add("complete", "command");
      finish(frame.text);
    } else if (frame.type === "pressed") {
      // The button's command answered: its reply replaces the buttons (as Discord edits the message).
      for (const row of log.querySelectorAll(".buttons")) {
        if (![...row.querySelectorAll("button")].some((b) => b.dataset.action === frame.action)) continue;
        const reply = document.createElement("p");
        reply.className = "pressed";
        reply.textContent = frame.text;
        row.replaceWith(reply);
        announce.textContent = frame.text;
      }
    } else if (frame.type === "error") {
      const note = item("error", frame.message);
      note.item.setAttribute("role", "alert");
      finish("");
    } else if (frame.type === "stopped") {
      if (current) current.item.classList.add("stopped");
      finish("Stopped.");
    }
  });
  socket.addEventListener("close", () => {
    busy(false);
    send.disabled = true;
    status.textContent = "Connection lost; reconnecting…";
    setTimeout(() => { status.textContent = ""; connect(); }, 1000);
  });
}

const picker = document.getElementById("images");

function readImage(file) {
  // The image as base64, without the "data:image/png;base64," prefix.
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve({ name: file.name, type: file.type, data: String(reader.result).split(",", 2)[1] });
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const text = field.value.trim();
  const files = [...picker.files];
  if ((!text && !files.length) || !socket || socket.readyState !== WebSocket.OPEN) return;
  const images = await Promise.all(files.map(readImage));
  const names = files.map((f) => f.name).join(", ");
  item("user", names ? `${text}${text ? "\n" : ""}[${names}]` : text);
  socket.send(JSON.stringify({ type: "send", text, images }));
  field.value = "";
  picker.value = "";
  announce.textContent = "";
  busy(true);
});

field.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    form.requestSubmit();
  }
});

stop.addEventListener("click", () => {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ type: "stop" }));
});

connect();
