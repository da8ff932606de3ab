/* citewell chat widget: <script src="https://HOST/widget.js" defer></script> puts citewell on any page.
 * Options (data-* on the script tag): title, greeting, accent, position (right|left), key, api, mode (page),
 * timeout (seconds to wait for an answer, default 30).
 * Everything is rendered with textContent, never innerHTML: corpus and user text can never become markup.
 * The widget lives in the Shadow DOM of a <citewell-chat> element: the page's selectors cannot reach inside, and
 * the host resets every inherited property (`all: initial !important`), so no page style flows in either. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.citewell) return;
  var data = script.dataset;
  var api = (data.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var pageMode = data.mode === "page";
  var storeKey = "citewell:" + api;
  // the API's limits, written in when the script is served (from service/schemas.py, through service/pages.py)
  var LIMITS = {{ limits|tojson }};
  var MAX_TURNS = LIMITS.history_turns;
  var MAX_CHARS = LIMITS.question_chars;
  var TIMEOUT_MS = 1000 * (Number(data.timeout) > 0 ? Number(data.timeout) : 30);

  var CSS = `
:host { all: initial !important; }
:host([data-mode="page"]) { display: block !important; }
.frame {
  --accent: var(--citewell-accent, #0b4f8a); --on-accent: #fff; --bg: #fff; --fg: #1b1b1b; --muted: #545454;
  --line: #c8c8c8; --bubble: #eef2f6; --mark: #fff0a8; --mark-fg: #1b1b1b; --code-bg: #f4f4f4; --danger: #b3261e;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); text-align: left;
}
@media (prefers-color-scheme: dark) {
  .frame {
    --accent: var(--citewell-accent, #8cc4ff); --on-accent: #0d1b2a; --bg: #17191c; --fg: #ececec;
    --muted: #b4b4b4; --line: #4a4d52; --bubble: #25292e; --mark: #6b5a00; --mark-fg: #fff; --code-bg: #0f1113;
    --danger: #ff8a80;
  }
}
* { box-sizing: border-box; }
.launcher {
  position: fixed; bottom: 20px; right: 20px; z-index: 2147483000; display: flex; align-items: center; gap: 8px;
  border: 0; border-radius: 28px; padding: 14px 20px; background: var(--accent); color: var(--on-accent);
  font: inherit; font-weight: 600; cursor: pointer; box-shadow: 0 4px 14px rgba(0, 0, 0, .25);
}
.launcher svg { width: 20px; height: 20px; flex: none; }
.left .launcher, .left .panel { right: auto; left: 20px; }
.panel {
  position: fixed; bottom: 84px; right: 20px; z-index: 2147483000; width: min(400px, calc(100vw - 24px));
  height: min(620px, calc(100vh - 108px)); display: flex; flex-direction: column; background: var(--bg);
  color: var(--fg); border: 1px solid var(--line); border-radius: 14px; box-shadow: 0 10px 40px rgba(0, 0, 0, .3);
  overflow: hidden;
}
.panel[hidden] { display: none; }
.page .panel {
  position: static; width: 100%; height: 100vh; max-width: 820px; margin: 0 auto; border-radius: 0;
  box-shadow: none; border-width: 0 1px;
}
/* a phone: the launcher shrinks to a round icon in the corner, the open panel fills the screen */
@media (max-width: 480px) {
  .launcher { bottom: 12px; right: 12px; width: 52px; height: 52px; padding: 0; justify-content: center; }
  .left .launcher { left: 12px; }
  .launcher .label { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
  .panel { inset: 0; width: 100vw; height: 100%; border-radius: 0; bottom: 0; right: 0; }
  .left .panel { left: 0; }
}
header { display: flex; align-items: center; gap: 8px; padding: 10px 12px; background: var(--accent); color: var(--on-accent); }
header h2 { flex: 1; margin: 0; font-size: 1.05em; line-height: 1.3; }
header button {
  background: transparent; color: var(--on-accent); border: 1px solid currentColor; border-radius: 6px;
  padding: 4px 10px; font: inherit; font-size: .9em; cursor: pointer;
}
.log { position: relative; flex: 1; overflow-y: auto; padding: 12px; display: flex; flex-direction: column; gap: 10px; }
.msg { max-width: 92%; padding: 8px 12px; border-radius: 12px; overflow-wrap: anywhere; }
.msg p { margin: 0 0 6px; }
.user { align-self: flex-end; background: var(--accent); color: var(--on-accent); }
.bot { align-self: flex-start; background: var(--bubble); }
.refusal, .problem { font-weight: 600; }
blockquote { margin: 6px 0; padding: 4px 10px; border-left: 3px solid var(--accent); color: var(--fg); white-space: pre-wrap; }
mark { background: var(--mark); color: var(--mark-fg); padding: 0 1px; }
code {
  display: block; margin: 4px 0; padding: 6px 8px; background: var(--code-bg); border-radius: 6px; overflow-x: auto;
  white-space: pre; font: 13px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace;
}
.source { font-size: .88em; color: var(--muted); }
a { color: inherit; text-decoration: underline; }
.bot a { color: var(--fg); }
.more, .suggestion, .retry, .small {
  margin: 6px 6px 0 0; background: var(--bg); color: var(--fg); border: 1px solid var(--accent); border-radius: 14px;
  padding: 4px 10px; font: inherit; font-size: .9em; cursor: pointer;
}
button:disabled { opacity: .6; cursor: default; }
.error { border: 1px solid var(--danger); }
.feedback { margin-top: 6px; font-size: .9em; display: flex; flex-wrap: wrap; align-items: center; gap: 4px; }
.rate {
  display: inline-flex; background: transparent; color: var(--fg); border: 1px solid var(--line); border-radius: 6px;
  padding: 3px 8px; cursor: pointer;
}
.rate svg { width: 16px; height: 16px; }
.comment { width: 100%; display: flex; flex-direction: column; gap: 4px; }
textarea {
  width: 100%; min-height: 3.2em; padding: 6px 8px; border: 1px solid var(--muted); border-radius: 6px; font: inherit;
  background: var(--bg); color: var(--fg); resize: vertical;
}
.typing { color: var(--muted); font-style: italic; }
.typing span { display: inline-block; animation: blink 1.2s infinite; }
.typing span:nth-child(2) { animation-delay: .2s; }
.typing span:nth-child(3) { animation-delay: .4s; }
@keyframes blink { 0%, 100% { opacity: .2; } 50% { opacity: 1; } }
@media (prefers-reduced-motion: reduce) {
  .typing span { animation: none; }
  * { scroll-behavior: auto !important; transition: none !important; }
}
form { display: flex; flex-wrap: wrap; gap: 8px; padding: 10px; border-top: 1px solid var(--line); }
input {
  flex: 1; min-width: 0; padding: 9px 10px; border: 1px solid var(--muted); border-radius: 8px; font: inherit;
  background: var(--bg); color: var(--fg);
}
form button {
  border: 0; border-radius: 8px; padding: 9px 14px; background: var(--accent); color: var(--on-accent); font: inherit;
  font-weight: 600; cursor: pointer;
}
.hint { flex-basis: 100%; margin: 0; font-size: .85em; color: var(--danger); }
.hint[hidden] { display: none; }
button:focus-visible, input:focus-visible, textarea:focus-visible, a:focus-visible, .log:focus-visible {
  outline: 3px solid #f5a623; outline-offset: 2px;
}
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
`;

  var ICONS = { // inline SVG: no icon font or emoji font needed
    chat: "M4 4h16v11H8l-4 4z",
    up: "M2 21h4V9H2zm20-11a2 2 0 0 0-2-2h-6.3l1-4.6v-.3a1.5 1.5 0 0 0-.4-1L13.2 1 6.6 7.6A2 2 0 0 0 6 9v10a2 2 0 0 0 2 2h9a2 2 0 0 0 1.8-1.2l3-7.1.2-.7z",
    down: "M22 3h-4v12h4zM2 14a2 2 0 0 0 2 2h6.3l-1 4.6v.3a1.5 1.5 0 0 0 .4 1l1.1 1.1 6.6-6.6A2 2 0 0 0 18 15V5a2 2 0 0 0-2-2H7a2 2 0 0 0-1.8 1.2l-3 7.1-.2.7z"
  };

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      if (name === "text") node.textContent = attrs[name];
      else if (name === "class") node.className = attrs[name];
      else if (name === "hidden") node.hidden = attrs[name];
      else node.setAttribute(name, attrs[name]);
    });
    (children || []).forEach(function (child) { if (child) node.appendChild(child); });
    return node;
  }

  function icon(name) {
    var ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg"), path = document.createElementNS(ns, "path");
    svg.setAttribute("viewBox", "0 0 24 24"); svg.setAttribute("aria-hidden", "true"); svg.setAttribute("focusable", "false");
    path.setAttribute("d", ICONS[name]); path.setAttribute("fill", "currentColor");
    svg.appendChild(path);
    return svg;
  }

  var host = document.createElement("citewell-chat"); // a name no page rule for div or section matches
  if (pageMode) host.setAttribute("data-mode", "page");
  var root = host.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet(); // a constructed sheet: allowed under a strict style-src CSP
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
  if (data.accent) host.style.setProperty("--citewell-accent", data.accent);

  var title = data.title || "Ask the documents";
  var frame = el("div", { class: "frame " + (pageMode ? "page " : "") + (data.position === "left" ? "left" : "") });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "cw-panel", "aria-label": title },
    [icon("chat"), el("span", { class: "label", text: title })]);
  var heading = el("h2", { id: "cw-title", text: title });
  var clearButton = el("button", { type: "button", text: "Clear", "aria-label": "Clear the conversation" });
  var closeButton = el("button", { type: "button", text: "Close", "aria-label": "Close the chat" });
  var log = el("div", { class: "log", role: "log", "aria-label": "Conversation", tabindex: "0" });
  var announcer = el("div", { class: "sr", "aria-live": "polite", role: "status" });
  var input = el("input", { id: "cw-input", type: "text", autocomplete: "off", placeholder: "Type a question", "aria-describedby": "cw-hint" });
  var label = el("label", { for: "cw-input", class: "sr", text: "Your question" });
  var send = el("button", { type: "submit", text: "Send" });
  var hint = el("p", { id: "cw-hint", class: "hint", hidden: true });
  var form = el("form", {}, [label, input, send, hint]);
  var panel = el("section", { id: "cw-panel", class: "panel", role: pageMode ? "region" : "dialog", "aria-labelledby": "cw-title", hidden: !pageMode },
    [el("header", {}, [heading, clearButton, pageMode ? null : closeButton]), log, form, announcer]);
  if (!pageMode) frame.appendChild(launcher);
  frame.appendChild(panel);
  root.appendChild(frame);

  var state = load();
  var pending = null; // the request in flight: { controller, timedOut }

  function load() {
    try { return JSON.parse(sessionStorage.getItem(storeKey)) || { entries: [], open: false }; }
    catch (e) { return { entries: [], open: false }; }
  }
  function save() {
    try { sessionStorage.setItem(storeKey, JSON.stringify(state)); } catch (e) { /* private mode: keep it in memory */ }
  }

  function setOpen(open, focusTarget) {
    if (pageMode) return;
    panel.hidden = !open;
    launcher.setAttribute("aria-expanded", String(open));
    state.open = open; save();
    if (open) (focusTarget || input).focus(); else launcher.focus();
  }

  function textFragment(text) {
    // a URL text fragment (#:~:text=start,end) that scrolls the original page to the quote and highlights it
    var words = text.trim().split(/\s+/);
    var enc = function (s) { return encodeURIComponent(s).replace(/-/g, "%2D").replace(/,/g, "%2C"); };
    if (words.length <= 8) return "#:~:text=" + enc(words.join(" "));
    return "#:~:text=" + enc(words.slice(0, 4).join(" ")) + "," + enc(words.slice(-4).join(" "));
  }

  function opens(url) { return /^https?:\/\//i.test(url || ""); } // a file:// or relative address opens nothing for a visitor

  function inside(ranges, at) {
    return ranges.some(function (r) { return r.start <= at && at < r.end; });
  }

  function quoteOf(passage) {
    // the passage text cut at every highlight and code boundary; each piece marked, set as code, or plain
    var text = passage.text, marks = passage.highlights || [], code = passage.code || [];
    var cuts = [0, text.length];
    marks.concat(code).forEach(function (r) { cuts.push(r.start, r.end); });
    cuts = cuts.filter(function (c, i) { return cuts.indexOf(c) === i; }).sort(function (a, b) { return a - b; });
    var quote = el("blockquote");
    for (var i = 0; i + 1 < cuts.length; i++) {
      var piece = text.slice(cuts[i], cuts[i + 1]);
      if (!piece) continue;
      var node = inside(marks, cuts[i]) ? el("mark", { text: piece }) : document.createTextNode(piece);
      if (inside(code, cuts[i])) {
        node = el("code", {}, [node]);
      }
      quote.appendChild(node);
    }
    return quote;
  }

  function passageBlock(passage) {
    var text = passage.text, src = passage.source;
    // a page's first heading is often its title again ("5. Data Structures — Python 3.11 documentation")
    var name = src.title + (src.section && src.title.indexOf(src.section) !== 0 ? " — " + src.section : "");
    var marks = passage.highlights || [];
    var quoted = marks.length ? text.slice(marks[0].start, marks[marks.length - 1].end) : text;
    var link = opens(src.url) ? el("a", { href: src.url + textFragment(quoted), target: "_blank", rel: "noopener noreferrer", text: name }) : el("span", { text: name });
    return el("div", { class: "passage" }, [quoteOf(passage), el("div", { class: "source" }, [document.createTextNode("Source: "), link])]);
  }

  function answerView(body) {
    var bubble = el("div", { class: "msg bot" });
    var passages = body.passages || [];
    if (body.answered) {
      // the answer is the highlight of the first quote: shown once, in its context
      bubble.appendChild(el("p", { class: "sr", text: "Answer, quoted from the documents:" }));
      if (passages[0]) bubble.appendChild(passageBlock(passages[0]));
      var rest = passages.slice(1);
      if (rest.length) {
        var more = el("div", { hidden: true }, rest.map(passageBlock));
        var toggle = el("button", { type: "button", class: "more", "aria-expanded": "false", text: "More sources (" + rest.length + ")" });
        toggle.addEventListener("click", function () {
          more.hidden = !more.hidden;
          toggle.setAttribute("aria-expanded", String(!more.hidden));
          toggle.textContent = (more.hidden ? "More sources (" : "Fewer sources (") + rest.length + ")";
        });
        bubble.appendChild(toggle); bubble.appendChild(more);
      }
    } else {
      bubble.appendChild(el("p", { class: "refusal", text: "The documents I can quote from do not answer this question." }));
      var topics = body.topics || [];
      if (topics.length) {
        bubble.appendChild(el("div", { class: "source", text: "They do cover these topics; you could ask about:" }));
        topics.slice(0, 3).forEach(function (topic) {
          var suggestion = el("button", { type: "button", class: "suggestion", text: topic });
          suggestion.addEventListener("click", function () { ask(topic); });
          bubble.appendChild(suggestion);
        });
      }
    }
    return bubble;
  }

  function feedbackRow(entry) {
    var row = el("div", { class: "feedback" });
    function thanks() { row.textContent = "Thanks for the feedback."; }
    function post(helpful, comment) {
      entry.rated = true; save(); thanks();
      var body = { answer_id: entry.body.id, helpful: helpful };
      if (comment) body.comment = comment.slice(0, LIMITS.comment_chars);
      fetch(api + "/api/feedback", { method: "POST", headers: headers(), body: JSON.stringify(body) })
        .catch(function () { /* feedback is best effort */ });
    }
    if (entry.rated) { thanks(); return row; }
    row.appendChild(el("span", { class: "source", text: "Was this helpful?" }));
    var up = el("button", { type: "button", class: "rate", "aria-label": "Helpful", title: "Helpful" }, [icon("up")]);
    var down = el("button", { type: "button", class: "rate", "aria-label": "Not helpful", title: "Not helpful" }, [icon("down")]);
    up.addEventListener("click", function () { post(true); });
    down.addEventListener("click", function () {
      // a thumbs-down may say what was wrong; the site owner reads it on /admin
      var box = el("textarea", { "aria-label": "What was wrong? (optional)", placeholder: "What was wrong? (optional)", maxlength: String(LIMITS.comment_chars) });
      var sendComment = el("button", { type: "button", class: "small", text: "Send feedback" });
      var skip = el("button", { type: "button", class: "small", text: "Skip" });
      sendComment.addEventListener("click", function () { post(false, box.value.trim()); });
      skip.addEventListener("click", function () { post(false); });
      row.textContent = "";
      row.appendChild(el("div", { class: "comment" }, [box, el("div", {}, [sendComment, skip])]));
      box.focus();
    });
    row.appendChild(up); row.appendChild(down);
    return row;
  }

  function render(entry) {
    if (entry.role === "user") return el("div", { class: "msg user", text: entry.content });
    var bubble = answerView(entry.body);
    if (entry.body.id) bubble.appendChild(feedbackRow(entry));
    return bubble;
  }

  function headers() {
    var result = { "Content-Type": "application/json" };
    if (data.key) result.Authorization = "Bearer " + data.key;
    return result;
  }

  function scrollDown() { log.scrollTop = log.scrollHeight; }
  function scrollTo(node) { log.scrollTop = Math.max(0, node.offsetTop - 12); } // the question at the top, its answer below

  function history() {
    // what the contract needs to read a follow-up: the last turns' text, each trimmed, so the request stays small
    return state.entries.slice(-MAX_TURNS).map(function (e) {
      var content = e.role === "user" ? e.content : (e.body.answer || e.body.message || "");
      return { role: e.role, content: content.slice(0, MAX_CHARS) };
    });
  }

  // What went wrong, in the visitor's words: { text, retry (may a retry help), wait (seconds before it can) }
  function problem(result) {
    var wait = Math.min(Math.max(parseInt(result.retryAfter, 10) || 0, 0), 3600);
    if (result.status === "timeout") return { text: "No answer came within " + TIMEOUT_MS / 1000 + " seconds. The service may be busy or down.", retry: true };
    if (result.status === 0) return { text: "The chat service could not be reached. It may be down, or not open to this site.", retry: true };
    if (result.status === 401 || result.status === 403) return { text: "This chat is not set up to answer on this site yet. Please let the site's owner know.", retry: false };
    if (result.status === 429) return { text: "Many questions were asked from here in a short time. You can ask again " + (wait ? "in " + wait + " seconds." : "in a minute."), retry: true, wait: wait || 60 };
    if (result.status === 503) return { text: "The chat service is starting up.", retry: true, wait: wait || 5 };
    if (result.status >= 500) return { text: "Something went wrong on the chat service's side.", retry: true };
    var reason = result.body.error && result.body.error.message;
    return { text: "The question could not be sent" + (reason ? ": " + reason : "."), retry: false };
  }

  function failureView(question, result) {
    var said = problem(result);
    var failure = el("div", { class: "msg bot error", role: "alert" }, [el("p", { class: "problem", text: said.text })]);
    if (said.retry) {
      var retry = el("button", { type: "button", class: "retry", text: "Retry" });
      retry.addEventListener("click", function () { failure.remove(); log.lastChild && log.lastChild.remove(); ask(question); });
      failure.appendChild(retry);
      if (said.wait) countdown(retry, said.wait);
    }
    return failure;
  }

  function countdown(button, seconds) {
    // Retry waits as long as the server asked (Retry-After); the button says how long is left
    button.disabled = true;
    var tick = function () {
      if (seconds <= 0) { button.disabled = false; button.textContent = "Retry"; return; }
      button.textContent = "Retry in " + seconds + " s";
      seconds -= 1;
      setTimeout(tick, 1000);
    };
    tick();
  }

  function setBusy(busy) {
    send.textContent = busy ? "Stop" : "Send";
    send.setAttribute("aria-label", busy ? "Stop waiting for the answer" : "Send");
    checkLength();
  }

  function checkLength() {
    var over = input.value.length > MAX_CHARS;
    hint.hidden = !over;
    hint.textContent = over ? "Questions can be up to " + MAX_CHARS + " characters; this one has " + input.value.length + "." : "";
    send.disabled = over && !pending;
  }

  function ask(question) {
    question = (question || "").trim();
    if (!question || pending || question.length > MAX_CHARS) return;
    if (!pageMode && panel.hidden) setOpen(true);
    var priorHistory = history();
    var userEntry = { role: "user", content: question };
    var userNode = render(userEntry);
    log.appendChild(userNode);
    if (input.value.trim() === question) input.value = "";
    var typing = el("div", { class: "msg bot typing", "aria-label": "citewell is looking for an answer" },
      [document.createTextNode("Looking in the documents "), el("span", { text: "." }), el("span", { text: "." }), el("span", { text: "." })]);
    log.appendChild(typing); scrollDown();
    var request = pending = { controller: new AbortController(), timedOut: false };
    var timer = setTimeout(function () { request.timedOut = true; request.controller.abort(); }, TIMEOUT_MS);
    setBusy(true);
    fetch(api + "/api/ask", { method: "POST", headers: headers(), signal: request.controller.signal,
      body: JSON.stringify({ question: question, history: priorHistory, top_k: 3 }) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) {
          return { status: response.status, body: body, retryAfter: response.headers.get("Retry-After") };
        });
      }, function () {
        return { status: request.timedOut ? "timeout" : request.controller.signal.aborted ? "stopped" : 0, body: {} };
      })
      .then(function (result) {
        clearTimeout(timer);
        typing.remove();
        pending = null; setBusy(false);
        if (result.status === 200) {
          var entry = { role: "assistant", body: result.body };
          state.entries.push(userEntry, entry); save();
          log.appendChild(render(entry));
          announcer.textContent = result.body.answered ? "Answer: " + result.body.answer : "The documents do not answer this question.";
          scrollTo(userNode);
          return;
        }
        if (result.status === "stopped") {
          userNode.remove();
          announcer.textContent = "Stopped. Your question is back in the box.";
        } else {
          log.appendChild(failureView(question, result));
          scrollDown();
        }
        if (!input.value) input.value = question; // the question is never lost
      });
  }

  function greet() {
    log.textContent = "";
    log.appendChild(el("div", { class: "msg bot", text: data.greeting || "Ask a question: I answer with quotes from the documents, and tell you where they stand." }));
    state.entries.forEach(function (entry) { log.appendChild(render(entry)); });
    scrollDown();
  }

  function focusable() {
    return Array.prototype.filter.call(panel.querySelectorAll("button, input, textarea, a[href], [tabindex='0']"), function (node) {
      return !node.disabled && node.offsetParent !== null;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (pending) pending.controller.abort(); else ask(input.value);
  });
  input.addEventListener("input", checkLength);
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  clearButton.addEventListener("click", function () { state.entries = []; save(); greet(); input.focus(); });
  frame.addEventListener("keydown", function (event) {
    if (pageMode) return;
    if (event.key === "Escape" && !panel.hidden) { event.preventDefault(); setOpen(false); return; }
    if (event.key !== "Tab" || panel.hidden || !panel.contains(root.activeElement)) return;
    // the open chat is a dialog: Tab cycles inside it (WAI-ARIA dialog pattern); Escape or Close leaves it
    var nodes = focusable(), first = nodes[0], last = nodes[nodes.length - 1];
    if (event.shiftKey && root.activeElement === first) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && root.activeElement === last) { event.preventDefault(); first.focus(); }
  });

  greet();
  (document.body || document.documentElement).appendChild(host);
  if (!pageMode && state.open) { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); }
  if (pageMode) input.focus();

  window.citewell = { ask: ask, open: function () { setOpen(true); }, close: function () { setOpen(false); } };
})();
