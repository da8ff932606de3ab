/* citewell chat widget: <script src="https://HOST/widget.js" defer></script> puts citewell on any page.
 * Options (data-* on the script tag): title, greeting, accent, position (right|left), key, api, mode (page).
 * Everything is rendered with textContent, never innerHTML: corpus and user text can never become markup. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.citewell) return;
  var data = script.dataset;
  var api = (data.api || new URL(script.src, location.href).origin).replace(/\/$/, "");
  var pageMode = data.mode === "page";
  var storeKey = "citewell:" + api;
  var MAX_TURNS = 20;

  var CSS = [
    ":host{all:initial;--accent:#0b4f8a;--on-accent:#fff;--bg:#fff;--fg:#1b1b1b;--muted:#545454;--line:#c8c8c8;",
    "--bubble:#eef2f6;--mark:#fff0a8;--mark-fg:#1b1b1b;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg)}",
    "@media (prefers-color-scheme:dark){:host{--bg:#17191c;--fg:#ececec;--muted:#b4b4b4;--line:#4a4d52;--bubble:#25292e;--mark:#6b5a00;--mark-fg:#fff}}",
    "*{box-sizing:border-box}",
    ".launcher{position:fixed;bottom:20px;right:20px;z-index:2147483000;border:0;border-radius:28px;padding:14px 20px;",
    "background:var(--accent);color:var(--on-accent);font:inherit;font-weight:600;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".left .launcher,.left .panel{right:auto;left:20px}",
    ".panel{position:fixed;bottom:84px;right:20px;z-index:2147483000;width:min(400px,calc(100vw - 24px));",
    "height:min(620px,calc(100vh - 108px));display:flex;flex-direction:column;background:var(--bg);color:var(--fg);",
    "border:1px solid var(--line);border-radius:14px;box-shadow:0 10px 40px rgba(0,0,0,.3);overflow:hidden}",
    ".panel[hidden]{display:none}",
    ".page .panel{position:static;width:100%;height:100vh;max-width:820px;margin:0 auto;border-radius:0;box-shadow:none;border-width:0 1px}",
    "@media (max-width:480px){.panel{inset:0;width:100vw;height:100%;border-radius:0;bottom:0;right:0}.left .panel{left:0}}",
    "header{display:flex;align-items:center;gap:8px;padding:10px 12px;background:var(--accent);color:var(--on-accent)}",
    "header h2{flex:1;margin:0;font-size:1.05em}",
    "header button{background:transparent;color:var(--on-accent);border:1px solid rgba(255,255,255,.6);border-radius:6px;",
    "padding:4px 10px;font:inherit;font-size:.9em;cursor:pointer}",
    ".log{flex:1;overflow-y:auto;padding:12px;display:flex;flex-direction:column;gap:10px}",
    ".msg{max-width:92%;padding:8px 12px;border-radius:12px;overflow-wrap:anywhere}",
    ".user{align-self:flex-end;background:var(--accent);color:var(--on-accent)}",
    ".bot{align-self:flex-start;background:var(--bubble)}",
    ".answer{margin:0 0 6px;font-weight:600}",
    "blockquote{margin:6px 0;padding:4px 10px;border-left:3px solid var(--accent);color:var(--fg);white-space:pre-wrap}",
    "mark{background:var(--mark);color:var(--mark-fg);padding:0 1px}",
    ".source{font-size:.88em;color:var(--muted)}",
    "a{color:inherit;text-decoration:underline}",
    ".bot a{color:var(--fg)}",
    ".more,.suggestion,.retry{margin:6px 6px 0 0;background:var(--bg);color:var(--fg);border:1px solid var(--accent);",
    "border-radius:14px;padding:4px 10px;font:inherit;font-size:.9em;cursor:pointer}",
    ".error{border:1px solid #b3261e}",
    ".feedback{margin-top:6px;font-size:.9em}.rate{background:transparent;border:1px solid var(--line);border-radius:6px;",
    "margin-left:4px;padding:1px 8px;font:inherit;cursor:pointer}",
    ".typing{color:var(--muted);font-style:italic}",
    ".typing span{display:inline-block;animation:blink 1.2s infinite}.typing span:nth-child(2){animation-delay:.2s}.typing span:nth-child(3){animation-delay:.4s}",
    "@keyframes blink{0%,100%{opacity:.2}50%{opacity:1}}",
    "@media (prefers-reduced-motion:reduce){.typing span{animation:none}*{scroll-behavior:auto!important;transition:none!important}}",
    "form{display:flex;gap:8px;padding:10px;border-top:1px solid var(--line)}",
    "input{flex:1;min-width:0;padding:9px 10px;border:1px solid var(--muted);border-radius:8px;font:inherit;background:var(--bg);color:var(--fg)}",
    "form button{border:0;border-radius:8px;padding:9px 14px;background:var(--accent);color:var(--on-accent);font:inherit;font-weight:600;cursor:pointer}",
    "button:focus-visible,input:focus-visible,a:focus-visible{outline:3px solid #f5a623;outline-offset:2px}",
    ".sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}"
  ].join("");

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

  var host = el("div", { "data-citewell": "" });
  if (pageMode) host.style.display = "block";
  var root = host.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet(); // a constructed sheet: allowed under a strict style-src CSP
  sheet.replaceSync(CSS);
  root.adoptedStyleSheets = [sheet];
  if (data.accent) host.style.setProperty("--accent", data.accent);

  var title = data.title || "Ask the documents";
  var frame = el("div", { class: (pageMode ? "page " : "") + (data.position === "left" ? "left" : "") });
  var launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false", "aria-controls": "cw-panel", text: title });
  var heading = el("h2", { id: "cw-title", text: title });
  var clearButton = el("button", { type: "button", text: "Clear", "aria-label": "Clear the conversation" });
  var closeButton = el("button", { type: "button", text: "Close", "aria-label": "Close the chat" });
  var log = el("div", { class: "log", role: "log", "aria-label": "Conversation", tabindex: "0" });
  var announcer = el("div", { class: "sr", "aria-live": "polite", role: "status" });
  var input = el("input", { id: "cw-input", type: "text", autocomplete: "off", maxlength: "1000", placeholder: "Type a question" });
  var label = el("label", { for: "cw-input", class: "sr", text: "Your question" });
  var send = el("button", { type: "submit", text: "Send" });
  var form = el("form", {}, [label, input, send]);
  var panel = el("section", { id: "cw-panel", class: "panel", role: pageMode ? "region" : "dialog", "aria-labelledby": "cw-title", hidden: !pageMode },
    [el("header", {}, [heading, clearButton, pageMode ? null : closeButton]), log, form, announcer]);
  if (!pageMode) frame.appendChild(launcher);
  frame.appendChild(panel);
  root.appendChild(frame);

  var state = load();
  var busy = false;

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

  function passageBlock(passage) {
    var text = passage.text, at = 0, quote = el("blockquote");
    passage.highlights.forEach(function (h) {
      quote.appendChild(document.createTextNode(text.slice(at, h.start)));
      quote.appendChild(el("mark", { text: text.slice(h.start, h.end) }));
      at = h.end;
    });
    quote.appendChild(document.createTextNode(text.slice(at)));
    var src = passage.source, name = src.title + (src.section ? " — " + src.section : "");
    var quoted = passage.highlights.length ? text.slice(passage.highlights[0].start, passage.highlights[passage.highlights.length - 1].end) : text;
    var link = src.url ? el("a", { href: src.url + textFragment(quoted), target: "_blank", rel: "noopener noreferrer", text: name }) : el("span", { text: name });
    return el("div", { class: "passage" }, [quote, el("div", { class: "source" }, [document.createTextNode("Source: "), link])]);
  }

  function answerView(body) {
    var bubble = el("div", { class: "msg bot" });
    var passages = body.passages || [];
    if (body.answered) {
      bubble.appendChild(el("p", { class: "answer", text: "“" + body.answer + "”" }));
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
      bubble.appendChild(el("p", { class: "answer refusal", text: body.message || "The documents do not answer this question." }));
      var topics = [];
      passages.forEach(function (p) {
        var topic = p.source.section || p.source.title;
        if (topic && topics.indexOf(topic) < 0) topics.push(topic);
      });
      if (topics.length) {
        bubble.appendChild(el("div", { class: "source", text: "You could ask about:" }));
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
    if (entry.rated) { thanks(); return row; }
    row.appendChild(el("span", { class: "source", text: "Was this helpful? " }));
    [["👍", "Helpful", true], ["👎", "Not helpful", false]].forEach(function (choice) {
      var button = el("button", { type: "button", class: "rate", "aria-label": choice[1], title: choice[1], text: choice[0] });
      button.addEventListener("click", function () {
        entry.rated = true; save(); thanks();
        fetch(api + "/api/feedback", { method: "POST", headers: headers(), body: JSON.stringify({ answer_id: entry.body.id, helpful: choice[2] }) })
          .catch(function () { /* feedback is best effort */ });
      });
      row.appendChild(button);
    });
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

  function history() {
    return state.entries.slice(-MAX_TURNS).map(function (e) {
      return { role: e.role, content: e.role === "user" ? e.content : (e.body.answer || e.body.message || "") };
    });
  }

  function problem(status) {
    if (status === 429) return "Too many questions at once. Please wait a moment, then retry.";
    if (status === 0) return "The connection failed. Check your network, then retry.";
    if (status === 503) return "The service is starting up. Please retry in a few seconds.";
    if (status >= 500) return "Something went wrong on our side. Please retry.";
    return null;
  }

  function ask(question) {
    question = (question || "").trim();
    if (!question || busy) return;
    if (!pageMode && panel.hidden) setOpen(true);
    busy = true; send.disabled = true;
    var priorHistory = history();
    var userEntry = { role: "user", content: question };
    log.appendChild(render(userEntry));
    if (input.value.trim() === question) input.value = "";
    var typing = el("div", { class: "msg bot typing", "aria-label": "citewell is looking for an answer" },
      [document.createTextNode("Looking in the documents "), el("span", { text: "." }), el("span", { text: "." }), el("span", { text: "." })]);
    log.appendChild(typing); scrollDown();
    fetch(api + "/api/ask", { method: "POST", headers: headers(), body: JSON.stringify({ question: question, history: priorHistory, top_k: 3 }) })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (body) { return { status: response.status, body: body }; });
      }, function () { return { status: 0, body: {} }; })
      .then(function (result) {
        typing.remove();
        busy = false; send.disabled = false;
        if (result.status === 200) {
          var entry = { role: "assistant", body: result.body };
          state.entries.push(userEntry, entry); save();
          log.appendChild(render(entry));
          announcer.textContent = result.body.answered ? "Answer: " + result.body.answer : (result.body.message || "");
        } else {
          var message = problem(result.status) || (result.body.error && result.body.error.message) || "The question could not be sent.";
          var retry = el("button", { type: "button", class: "retry", text: "Retry" });
          var failure = el("div", { class: "msg bot error", role: "alert" }, [el("p", { class: "answer", text: message }), retry]);
          retry.addEventListener("click", function () { failure.remove(); log.lastChild && log.lastChild.remove(); ask(question); });
          log.appendChild(failure);
          if (!input.value) input.value = question; // the question is never lost
        }
        scrollDown();
      });
  }

  function greet() {
    log.textContent = "";
    log.appendChild(el("div", { class: "msg bot", text: data.greeting || "Ask a question: I answer with quotes from the documents, and tell you where they stand." }));
    state.entries.forEach(function (entry) { log.appendChild(render(entry)); });
    scrollDown();
  }

  form.addEventListener("submit", function (event) { event.preventDefault(); ask(input.value); });
  launcher.addEventListener("click", function () { setOpen(panel.hidden); });
  closeButton.addEventListener("click", function () { setOpen(false); });
  clearButton.addEventListener("click", function () { state.entries = []; save(); greet(); input.focus(); });
  panel.addEventListener("keydown", function (event) { if (event.key === "Escape" && !pageMode) setOpen(false); });

  greet();
  (document.body || document.documentElement).appendChild(host);
  if (!pageMode && state.open) { panel.hidden = false; launcher.setAttribute("aria-expanded", "true"); }
  if (pageMode) input.focus();

  window.citewell = { ask: ask, open: function () { setOpen(true); }, close: function () { setOpen(false); } };
})();
