/*
 * kefu chat widget: one script tag adds a chat button and panel to any page.
 *
 *   <script src="http://YOUR-KEFU-HOST/widget.js"></script>
 *
 * Optional attributes on the tag: data-lang="zh|en" (interface language; default: the page's),
 * data-title="..." (panel title), data-api="https://..." (API origin; default: where this file came from).
 *
 * The widget talks to POST /api/v1/chat and polls GET /api/v1/chat/{session}/messages?after=SEQ every
 * two seconds while open (and while a human agent has the conversation), which is how agent replies
 * appear. The session id and its key (sent as X-Session-Key: without it the server shows the conversation
 * to no one) are kept in localStorage, so a reload continues the conversation. Each message carries an id
 * of its own (client_message_id), so a send that failed is retried without recording the message twice.
 * No dependencies, nothing fetched from anywhere but the kefu server. Text is always inserted as text.
 */
(function () {
  "use strict";
  if (window.kefuWidget) return;

  var script = document.currentScript;
  var attr = function (name) { return script ? script.getAttribute(name) : null; };
  var base = attr("data-api") || (script && script.src ? new URL(script.src, location.href).origin : "");
  var pageLang = (attr("data-lang") || document.documentElement.lang || navigator.language || "en").toLowerCase();
  var lang = pageLang.indexOf("zh") === 0 ? "zh" : "en";
  var TEXT = {
    zh: {
      title: "在线客服", open: "打开在线客服", close: "关闭", restart: "新对话", send: "发送",
      placeholder: "请输入您的问题…", greeting: "您好！请问有什么可以帮您？中文、English 都可以。",
      bot: "智能助手", agent: "人工客服", source: "来源", error: "网络有点问题，请稍后再试。",
      status: { bot: "智能助手在线", handoff: "等待人工客服", human: "人工客服已接入", closed: "对话已结束" }
    },
    en: {
      title: "Customer service", open: "Open the chat", close: "Close", restart: "New chat", send: "Send",
      placeholder: "Type your question…", greeting: "Hi! How can I help? 中文、English 都可以。",
      bot: "Assistant", agent: "Agent", source: "Source", error: "Network problem, please try again.",
      status: { bot: "Assistant online", handoff: "Waiting for an agent", human: "An agent has joined",
                closed: "Conversation ended" }
    }
  }[lang];
  var title = attr("data-title") || TEXT.title;
  var STORE = "kefu.session:" + base;
  var KEY_STORE = "kefu.key:" + base;
  var POLL_MS = 2000;
  var RETRY_MS = [1000, 3000]; // a send that got no answer (or a 5xx) is tried again after these waits

  var CSS = [
    ".kefu-root, .kefu-root * { box-sizing: border-box; }",
    ".kefu-root { --kefu-accent: #2563eb; position: fixed; right: 24px; bottom: 24px; z-index: 2147483000;",
    "  font-family: -apple-system, BlinkMacSystemFont, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB',",
    "    'Microsoft YaHei', 'Noto Sans CJK SC', 'Noto Sans SC', 'Source Han Sans SC', 'WenQuanYi Micro Hei',",
    "    Roboto, 'Helvetica Neue', Arial, sans-serif; font-size: 14px; line-height: 1.5; color: #1f2937; }",
    ".kefu-launcher { width: 56px; height: 56px; border-radius: 50%; border: 0; cursor: pointer;",
    "  background: var(--kefu-accent); color: #fff; box-shadow: 0 6px 20px rgba(37,99,235,.4);",
    "  display: flex; align-items: center; justify-content: center; position: relative; margin-left: auto; }",
    ".kefu-launcher:focus-visible, .kefu-root button:focus-visible { outline: 3px solid #93c5fd; }",
    ".kefu-dot { position: absolute; top: 4px; right: 4px; width: 12px; height: 12px; border-radius: 50%;",
    "  background: #ef4444; border: 2px solid #fff; display: none; }",
    ".kefu-panel { position: absolute; right: 0; bottom: 72px; width: 360px; height: 540px;",
    "  max-height: calc(100vh - 110px); max-width: calc(100vw - 32px); background: #fff; border-radius: 14px;",
    "  box-shadow: 0 12px 40px rgba(15,23,42,.25); display: none; flex-direction: column; overflow: hidden; }",
    ".kefu-root.kefu-open .kefu-panel { display: flex; }",
    ".kefu-head { background: var(--kefu-accent); color: #fff; padding: 12px 14px; display: flex; gap: 8px;",
    "  align-items: center; }",
    ".kefu-head-text { flex: 1; min-width: 0; }",
    ".kefu-title { font-weight: 600; font-size: 15px; }",
    ".kefu-status { font-size: 12px; opacity: .9; }",
    ".kefu-head button { background: transparent; border: 0; color: #fff; cursor: pointer; font-size: 13px;",
    "  padding: 4px 6px; border-radius: 6px; }",
    ".kefu-head button:hover { background: rgba(255,255,255,.15); }",
    ".kefu-log { flex: 1; overflow-y: auto; padding: 14px; background: #f8fafc; display: flex;",
    "  flex-direction: column; gap: 10px; }",
    ".kefu-msg { display: flex; flex-direction: column; max-width: 85%; }",
    ".kefu-msg.kefu-customer { align-self: flex-end; align-items: flex-end; }",
    ".kefu-who { font-size: 11px; color: #64748b; margin: 0 4px 2px; }",
    ".kefu-bubble { padding: 8px 12px; border-radius: 12px; background: #fff; border: 1px solid #e2e8f0;",
    "  white-space: pre-wrap; word-break: break-word; }",
    ".kefu-customer .kefu-bubble { background: var(--kefu-accent); color: #fff; border-color: transparent; }",
    ".kefu-agent .kefu-bubble { background: #ecfdf5; border-color: #a7f3d0; }",
    ".kefu-sources { font-size: 12px; color: #64748b; margin: 3px 4px 0; }",
    ".kefu-quick { display: flex; flex-wrap: wrap; gap: 6px; margin-top: 6px; }",
    ".kefu-quick button { border: 1px solid var(--kefu-accent); color: var(--kefu-accent); background: #fff;",
    "  border-radius: 999px; padding: 4px 10px; cursor: pointer; font: inherit; font-size: 13px; }",
    ".kefu-system { align-self: center; font-size: 12px; color: #b91c1c; }",
    ".kefu-form { display: flex; gap: 8px; padding: 10px; border-top: 1px solid #e2e8f0; background: #fff; }",
    ".kefu-form input { flex: 1; min-width: 0; border: 1px solid #cbd5e1; border-radius: 8px; padding: 8px 10px;",
    "  font: inherit; }",
    ".kefu-form input:focus { outline: 2px solid #93c5fd; border-color: var(--kefu-accent); }",
    ".kefu-form button { border: 0; border-radius: 8px; padding: 8px 14px; background: var(--kefu-accent);",
    "  color: #fff; cursor: pointer; font: inherit; }",
    ".kefu-form button:disabled { opacity: .6; cursor: default; }"
  ].join("\n");

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var state = {
    session: null, key: null, lastSeq: -1, shown: {}, pending: [], status: "bot", open: false, busy: false,
    loaded: false, timer: null
  };
  try {
    state.session = localStorage.getItem(STORE);
    state.key = localStorage.getItem(KEY_STORE);
  } catch (e) { /* storage blocked: one page only */ }

  // --- the DOM -------------------------------------------------------------------------------------

  var root = el("div", "kefu-root");
  root.setAttribute("data-kefu", "");
  var panel = el("div", "kefu-panel");
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = el("div", "kefu-head");
  var headText = el("div", "kefu-head-text");
  headText.appendChild(el("div", "kefu-title", title));
  var statusLine = el("div", "kefu-status", TEXT.status.bot);
  headText.appendChild(statusLine);
  var restart = el("button", "kefu-restart", TEXT.restart);
  restart.type = "button";
  var close = el("button", "kefu-close", "✕");
  close.type = "button";
  close.setAttribute("aria-label", TEXT.close);
  head.appendChild(headText);
  head.appendChild(restart);
  head.appendChild(close);
  var log = el("div", "kefu-log");
  log.setAttribute("aria-live", "polite");
  var form = el("form", "kefu-form");
  var input = el("input");
  input.type = "text";
  input.placeholder = TEXT.placeholder;
  input.maxLength = 2000;
  input.setAttribute("aria-label", TEXT.placeholder);
  var send = el("button", null, TEXT.send);
  send.type = "submit";
  form.appendChild(input);
  form.appendChild(send);
  panel.appendChild(head);
  panel.appendChild(log);
  panel.appendChild(form);
  var launcher = el("button", "kefu-launcher");
  launcher.type = "button";
  launcher.setAttribute("aria-label", TEXT.open);
  launcher.innerHTML = '<svg width="28" height="28" viewBox="0 0 24 24" fill="none" aria-hidden="true">' +
    '<path d="M4 5h16v11H8l-4 4V5z" stroke="currentColor" stroke-width="2" stroke-linejoin="round"/>' +
    '<path d="M8 9.5h8M8 12.5h5" stroke="currentColor" stroke-width="2" stroke-linecap="round"/></svg>';
  var dot = el("span", "kefu-dot");
  launcher.appendChild(dot);
  root.appendChild(panel);
  root.appendChild(launcher);

  // --- messages ------------------------------------------------------------------------------------

  function scrollDown() { log.scrollTop = log.scrollHeight; }

  function addMessage(role, text, extra) {
    extra = extra || {};
    var message = el("div", "kefu-msg kefu-" + role);
    if (role !== "customer") message.appendChild(el("div", "kefu-who", role === "agent" ? TEXT.agent : TEXT.bot));
    message.appendChild(el("div", "kefu-bubble", text));
    var sources = (extra.sources || []).filter(function (s) { return s && s.source; });
    if (sources.length) {
      var names = sources.map(function (s) { return s.title || s.source; });
      var line = el("div", "kefu-sources", TEXT.source + "：" + names.join("；"));
      line.title = sources.map(function (s) { return s.source; }).join(", ");
      message.appendChild(line);
    }
    var buttons = extra.buttons || [];
    if (buttons.length) {
      var quick = el("div", "kefu-quick");
      buttons.forEach(function (b) {
        var button = el("button", null, b.title);
        button.type = "button";
        button.addEventListener("click", function () { submit(b.payload, b.title); });
        quick.appendChild(button);
      });
      message.appendChild(quick);
    }
    log.appendChild(message);
    scrollDown();
    return message;
  }

  function addSystem(text) {
    log.appendChild(el("div", "kefu-system", text));
    scrollDown();
  }

  // Every turn has a seq; a turn is shown once, whichever of the chat answer and the poll brings it
  // first. The customer's own message is shown at once and matched to its turn when that arrives.
  function showTurn(turn) {
    if (state.shown[turn.seq]) return;
    state.shown[turn.seq] = true;
    if (turn.role === "customer") {
      for (var i = 0; i < state.pending.length; i++) {
        if (state.pending[i] === turn.text) { state.pending.splice(i, 1); return; }
      }
    }
    if (!turn.text) return;
    var text = turn.text.indexOf("/intent:") === 0 ? "✓" : turn.text;
    addMessage(turn.role, text, { sources: turn.sources, buttons: turn.role === "bot" ? turn.buttons : [] });
    if (turn.role === "agent" && !state.open) dot.style.display = "block";
  }

  // The header's status line is the one place the state shows, in a few words that never wrap: the
  // handoff itself is told once, by the bot's reply in the log (the project's words, which may add an
  // apology or opening hours). Nothing above the log changes height, so the log's end stays in view.
  function setStatus(status) {
    state.status = status || "bot";
    statusLine.textContent = TEXT.status[state.status] || TEXT.status.bot;
    root.setAttribute("data-status", state.status);
  }

  function remember(session, key) {
    if (session === state.session) return;
    state.session = session;
    state.key = key || null; // only the answer that starts a conversation carries its key
    try {
      localStorage.setItem(STORE, session);
      if (state.key) localStorage.setItem(KEY_STORE, state.key); else localStorage.removeItem(KEY_STORE);
    } catch (e) { /* ignore */ }
  }

  function messageId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID exists on https pages (and localhost) only; getRandomValues everywhere
    var bytes = crypto.getRandomValues(new Uint8Array(16));
    return Array.prototype.map.call(bytes, function (b) { return (b + 256).toString(16).slice(1); }).join("");
  }

  // --- talking to the server -----------------------------------------------------------------------

  function request(method, path, body) {
    var headers = body ? { "Content-Type": "application/json" } : {};
    if (state.key) headers["X-Session-Key"] = state.key;
    return fetch(base + path, {
      method: method,
      headers: headers,
      body: body ? JSON.stringify(body) : undefined
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          var error = new Error(data.detail || response.statusText);
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function submit(text, display) {
    text = (text || "").trim();
    if (!text || state.busy) return;
    state.busy = true;
    send.disabled = true;
    var mine = addMessage("customer", display || text);
    state.pending.push(text);
    var message = { session_id: state.session, text: text, client_message_id: messageId() };
    sendMessage(message, 0).then(function (result) {
      if (result.session_id !== state.session) { state.shown = {}; state.lastSeq = -1; }
      remember(result.session_id, result.session_key);
      // the turns this answer recorded: the customer's, then the bot's (none while an agent has the chat)
      showTurn({ seq: result.decision ? result.seq - 1 : result.seq, role: "customer", text: text });
      if (result.decision && !state.shown[result.seq]) {
        state.shown[result.seq] = true;
        if (result.reply.text) {
          addMessage("bot", result.reply.text, { sources: result.sources, buttons: result.reply.buttons });
        }
      }
      setStatus(result.status);
    }).catch(function (error) {
      state.pending.splice(state.pending.indexOf(text), 1);
      mine.style.opacity = "0.6";
      addSystem(error && error.status === 422 ? error.message : TEXT.error);
    }).then(function () {
      state.busy = false;
      send.disabled = false;
      poll().then(schedule); // and anything an agent wrote meanwhile, in order
    });
  }

  // The same message (and id) again while the failure says nothing of whether it was recorded: the
  // server records a client_message_id once, and answers a resend with what it answered then.
  function sendMessage(message, attempt) {
    return request("POST", "/api/v1/chat", message).catch(function (error) {
      var unknown = !error || !error.status || error.status >= 500;
      if (!unknown || attempt >= RETRY_MS.length) throw error;
      return new Promise(function (resolve) { setTimeout(resolve, RETRY_MS[attempt]); }).then(function () {
        return sendMessage(message, attempt + 1);
      });
    });
  }

  function poll() {
    if (!state.session) return Promise.resolve();
    var session = state.session;
    return request("GET", "/api/v1/chat/" + encodeURIComponent(session) + "/messages?after=" + state.lastSeq)
      .then(function (data) {
        if (session !== state.session) return; // the customer started a new conversation meanwhile
        data.messages.forEach(showTurn);
        state.lastSeq = Math.max(state.lastSeq, data.last_seq);
        setStatus(data.status);
      })
      .catch(function (error) {
        if (error && error.status === 404) { forget(); }
      });
  }

  function schedule() {
    clearTimeout(state.timer);
    var active = state.open || state.status === "handoff" || state.status === "human";
    if (!state.session || !active) return;
    state.timer = setTimeout(function () { poll().then(schedule); }, POLL_MS);
  }

  function forget() {
    state.session = null;
    state.key = null;
    state.lastSeq = -1;
    state.shown = {};
    state.pending = [];
    try {
      localStorage.removeItem(STORE);
      localStorage.removeItem(KEY_STORE);
    } catch (e) { /* ignore */ }
    log.textContent = "";
    addMessage("bot", TEXT.greeting);
    setStatus("bot");
  }

  function open() {
    state.open = true;
    root.classList.add("kefu-open");
    dot.style.display = "none";
    if (!state.loaded) {
      state.loaded = true;
      addMessage("bot", TEXT.greeting);
      if (state.session) poll().then(schedule);
    }
    schedule();
    setTimeout(function () { input.focus(); }, 0);
  }

  function hide() {
    state.open = false;
    root.classList.remove("kefu-open");
    schedule();
  }

  launcher.addEventListener("click", function () { (state.open ? hide : open)(); });
  close.addEventListener("click", hide);
  restart.addEventListener("click", function () { forget(); input.focus(); });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value;
    input.value = "";
    submit(text);
  });

  // A stylesheet built in script is not inline style to a Content-Security-Policy, so the widget keeps
  // its looks on pages (kefu's own among them) that forbid inline styles; older browsers get a <style>.
  function addStyles() {
    if ("adoptedStyleSheets" in document && "replaceSync" in CSSStyleSheet.prototype) {
      var sheet = new CSSStyleSheet();
      sheet.replaceSync(CSS);
      document.adoptedStyleSheets = document.adoptedStyleSheets.concat([sheet]);
    } else {
      root.appendChild(el("style", null, CSS));
    }
  }

  function mount() {
    addStyles();
    document.body.appendChild(root);
    setStatus("bot");
  }
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);

  window.kefuWidget = { open: open, close: hide, send: submit, state: state };
})();
