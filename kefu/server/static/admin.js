/*
 * kefu dashboard: inbox (claim, reply, hand back, close), conversations, review queue (words highlighted by
 * how much they made the model choose its intent; unanswered questions that look alike, to accept as an
 * intent) with retraining, analytics charts (inline SVG drawn here: turns, intents, sentiment, topics per
 * day, sentiment by topic, discovered clusters), user management. Vanilla JS, no build step.
 *
 * Auth: POST /api/v1/admin/login sets the session as an HttpOnly cookie, which no script (so no injected
 * one either) can read, and a CSRF cookie, whose value every write copies into the X-CSRF-Token header;
 * a 401 shows the login form. Data is always inserted with textContent, never as HTML.
 */
(function () {
  "use strict";

  var CSRF_COOKIE = "kefu_csrf";
  var REFRESH_MS = 2500;
  var S = {
    user: null,
    tab: "inbox",
    selected: { inbox: null, conversations: null },
    views: {},
    intents: [],
    timer: null,
    focusCluster: null,  // the cluster the analytics page linked to, shown first in the review queue
    clustersAsked: {}    // per panel, the latest clusters request: an older answer arriving late is dropped
  };

  function $(id) { return document.getElementById(id); }

  function el(tag, props) {
    var node = document.createElement(tag);
    var children = Array.prototype.slice.call(arguments, 2);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === undefined || value === null) return;
      if (key === "text") node.textContent = value;
      else if (key === "className") node.className = value;
      else if (key.indexOf("on") === 0) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value);
    });
    children.forEach(function (child) {
      if (child === null || child === undefined || child === false) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }

  function cookie(name) {
    var found = document.cookie.split("; ").filter(function (c) { return c.indexOf(name + "=") === 0; })[0];
    return found ? decodeURIComponent(found.slice(name.length + 1)) : "";
  }

  function api(method, path, body) {
    var headers = {};
    if (method !== "GET") headers["X-CSRF-Token"] = cookie(CSRF_COOKIE);
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return fetch("/api/v1/admin" + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      if (response.status === 401) { signedOut(); throw new Error("signed out"); }
      if (response.status === 204) return null;
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || response.statusText);
        return data;
      });
    });
  }

  function when(iso) {
    var date = new Date(iso);
    return date.toLocaleString(undefined, { month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit" });
  }

  function pct(x) { return (100 * x).toFixed(1) + "%"; }

  // --- sign in -------------------------------------------------------------------------------------

  function showLogin() {
    $("app").hidden = true;
    $("login").hidden = false;
    $("login-username").focus();
  }

  function signedOut() {
    S.user = null;
    clearTimeout(S.timer);
    showLogin();
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    fetch("/api/v1/admin/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("login-username").value, password: $("login-password").value })
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.detail || "sign-in failed");
        $("login-password").value = "";
        start();
      });
    }).catch(function (error) { $("login-error").textContent = error.message; });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/logout").catch(function () { /* signed out either way */ }).then(signedOut);
  });

  function start() {
    api("GET", "/me").then(function (user) {
      S.user = user;
      $("login").hidden = true;
      $("app").hidden = false;
      $("who").textContent = user.username + " (" + user.role + ")";
      document.querySelectorAll("[data-admin]").forEach(function (node) { node.hidden = user.role !== "admin"; });
      api("GET", "/intents").then(function (data) { S.intents = data.intents; });
      showTab(S.tab);
    }).catch(function () { /* 401 already showed the login form */ });
  }

  // --- tabs ----------------------------------------------------------------------------------------

  var LOADERS = {
    inbox: loadInbox,
    conversations: loadConversations,
    reviews: loadReviews,
    analytics: loadAnalytics,
    users: loadUsers
  };
  var LIVE = { inbox: true, conversations: true };  // refreshed every few seconds

  function showTab(name) {
    S.tab = name;
    document.querySelectorAll("#tabs button").forEach(function (button) {
      button.classList.toggle("active", button.getAttribute("data-tab") === name);
    });
    document.querySelectorAll(".tab").forEach(function (section) { section.hidden = section.id !== "tab-" + name; });
    refresh();
  }

  function refresh() {
    clearTimeout(S.timer);
    if (!S.user) return;
    Promise.resolve(LOADERS[S.tab]()).catch(function () { /* shown where it matters */ }).then(function () {
      if (LIVE[S.tab]) S.timer = setTimeout(refresh, REFRESH_MS);
    });
  }

  document.querySelectorAll("#tabs button").forEach(function (button) {
    button.addEventListener("click", function () { showTab(button.getAttribute("data-tab")); });
  });

  // --- inbox ---------------------------------------------------------------------------------------

  function ticketItem(ticket, tab) {
    var item = el("li", { className: S.selected[tab] === ticket.session_id ? "selected" : "" },
      el("div", { text: ticket.session_id.slice(0, 8) + " · " + ticket.reason }),
      el("div", { className: "meta", text: ticket.status === "closed" ?
        "closed (" + (ticket.close_reason || "closed").replace(/_/g, " ") + ") " + when(ticket.closed_at) :
        (ticket.status === "open" ? "waiting since " : "claimed ") + when(ticket.claimed_at || ticket.created_at) }));
    item.setAttribute("data-session", ticket.session_id);
    item.addEventListener("click", function () { select(tab, ticket.session_id); });
    return item;
  }

  function fillList(list, items, empty) {
    clear(list);
    if (!items.length) list.appendChild(el("li", { className: "empty", text: empty }));
    items.forEach(function (item) { list.appendChild(item); });
  }

  function loadInbox() {
    return Promise.all([api("GET", "/inbox?status=open"), api("GET", "/inbox?status=claimed&mine=true"),
      api("GET", "/inbox?status=closed&limit=10")])
      .then(function (results) {
        $("inbox-count").textContent = results[0].length ? String(results[0].length) : "";
        fillList($("open-tickets"), results[0].map(function (t) { return ticketItem(t, "inbox"); }), "Nobody is waiting.");
        fillList($("my-tickets"), results[1].map(function (t) { return ticketItem(t, "inbox"); }), "None yet.");
        fillList($("closed-tickets"), results[2].map(function (t) { return ticketItem(t, "inbox"); }), "None yet.");
        if (S.selected.inbox) return S.views.inbox.load();
      });
  }

  function select(tab, sessionId) {
    S.selected[tab] = sessionId;
    S.views[tab] = conversationView($(tab === "inbox" ? "inbox-detail" : "conversation-detail"), sessionId);
    document.querySelectorAll("#tab-" + tab + " .list li").forEach(function (li) {
      li.classList.toggle("selected", li.getAttribute("data-session") === sessionId);
    });
    return S.views[tab].load();
  }

  // One conversation: header with actions, the transcript, and the reply box while it is ours.
  function conversationView(container, sessionId) {
    var status = el("span", { className: "badge" });
    var actions = el("span", { className: "row" });
    var message = el("span", { className: "error" });
    var transcript = el("div", { className: "transcript" });
    var input = el("input", { placeholder: "Reply to the customer…", maxlength: "2000", id: "agent-reply" });
    var reply = el("form", { className: "reply" }, input, el("button", { type: "submit", text: "Send" }));
    var shownTurns = -1;
    clear(container);
    container.appendChild(el("div", { className: "detail-head" },
      el("strong", { text: "Conversation " + sessionId.slice(0, 12) }), status, actions, message));
    container.appendChild(transcript);
    container.appendChild(reply);

    function act(promise) {
      message.textContent = "";
      return promise.then(load).then(function () {
        if (S.tab === "inbox") return loadInbox();
      }).catch(function (error) { message.textContent = error.message; });
    }

    reply.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text) return;
      input.value = "";
      act(api("POST", "/conversations/" + sessionId + "/reply", { text: text }));
    });

    function load() {
      return api("GET", "/conversations/" + sessionId).then(function (data) {
        var conversation = data.conversation;
        var mine = conversation.status === "human" && S.user && conversation.assigned_agent_id === S.user.id;
        status.textContent = conversation.status === "human" && !mine ? "with another agent" : conversation.status;
        status.className = "badge " + conversation.status;
        clear(actions);
        if (!mine && conversation.status !== "closed") {
          actions.appendChild(el("button", { text: "Claim", id: "claim",
            onclick: function () { act(api("POST", "/conversations/" + sessionId + "/claim")); } }));
        }
        if (mine || (conversation.status === "human" && S.user.role === "admin")) {
          actions.appendChild(el("button", { className: "secondary", text: "Hand back to bot", id: "release",
            onclick: function () { act(api("POST", "/conversations/" + sessionId + "/release")); } }));
        }
        // the server refuses to close another agent's conversation to anyone but an admin
        if (conversation.status !== "closed" && (conversation.status !== "human" || mine || S.user.role === "admin")) {
          actions.appendChild(el("button", { className: "danger", text: "Close", id: "close",
            title: "End the conversation and delete its slot values · 结束会话并删除槽位值",
            onclick: function () { act(api("POST", "/conversations/" + sessionId + "/close")); } }));
        }
        reply.hidden = !mine;
        if (data.turns.length && data.turns[data.turns.length - 1].seq !== shownTurns) {
          clear(transcript);
          data.turns.forEach(function (turn) { transcript.appendChild(turnView(turn)); });
          shownTurns = data.turns[data.turns.length - 1].seq;
          transcript.scrollTop = transcript.scrollHeight;
        }
      });
    }

    return { load: load };
  }

  function turnView(turn) {
    var meta = [turn.role, when(turn.created_at)];
    if (turn.intent) meta.push(turn.intent + (turn.confidence !== null ? " " + turn.confidence.toFixed(2) : ""));
    if (turn.decision) meta.push(turn.decision);
    (turn.sources || []).forEach(function (s) { meta.push("source " + (s.source || s)); });
    return el("div", { className: "turn " + turn.role },
      el("div", { className: "text", text: turn.text || "…" }),
      el("div", { className: "meta", text: meta.join(" · ") }));
  }

  // --- conversations -------------------------------------------------------------------------------

  function loadConversations() {
    // in the body, not the URL: a URL's query (a phone number searched for) ends up in access logs
    var search = { q: $("search-q").value.trim() || null, status: $("search-status").value || null };
    return api("POST", "/conversations/search", search).then(function (conversations) {
      fillList($("conversation-list"), conversations.map(function (c) {
        var item = el("li", { className: S.selected.conversations === c.session_id ? "selected" : "" },
          el("div", {}, c.session_id.slice(0, 12) + " ", el("span", { className: "badge " + c.status, text: c.status })),
          el("div", { className: "meta", text: "last active " + when(c.updated_at) + (c.language ? " · " + c.language : "") }));
        item.setAttribute("data-session", c.session_id);
        item.addEventListener("click", function () { select("conversations", c.session_id); });
        return item;
      }), "No conversations found.");
      if (S.selected.conversations) return S.views.conversations.load();
    });
  }

  $("search-form").addEventListener("submit", function (event) { event.preventDefault(); refresh(); });

  // --- reviews and retraining ----------------------------------------------------------------------

  function loadReviews() {
    loadClusters();  // seconds the first time: the table does not wait for it
    return loadReviewRows();
  }

  function loadReviewRows() {
    var intents = S.intents.length ? Promise.resolve() : api("GET", "/intents").then(function (d) { S.intents = d.intents; });
    return intents.then(function () { return api("GET", "/reviews?status=pending&limit=100"); }).then(function (reviews) {
      var rows = clear($("review-rows"));
      $("reviews-empty").hidden = reviews.length > 0;
      reviews.forEach(function (review) {
        var choice = intentChoice();
        var note = el("span", { className: "error" });
        var save = el("button", { text: "Save label", className: "save", disabled: "", onclick: function () {
          api("POST", "/reviews/" + review.id + "/label", { intent: choice.value })
            .then(function () { row.remove(); })
            .catch(function (error) { note.textContent = error.message; });
        } });
        choice.addEventListener("change", function () { save.disabled = !choice.value; });
        var said = el("td", { text: review.text });
        explainInto(said, review.text);
        var row = el("tr", { "data-review": String(review.id), "data-turn": String(review.turn_id) },
          said,
          el("td", { text: (review.predicted_intent || "-") +
            (review.confidence !== null ? " (" + review.confidence.toFixed(2) + ")" : "") }),
          el("td", { text: review.reason }),
          el("td", {}, choice),
          el("td", {}, save, " ",
            el("button", { text: "Dismiss", className: "secondary", onclick: function () {
              api("POST", "/reviews/" + review.id + "/dismiss").then(function () { row.remove(); });
            } }), note));
        rows.appendChild(row);
      });
    });
  }

  // Nothing chosen to start with: a Save that kept the model's guess would teach the model its own error.
  // out_of_scope comes first, as what most unanswered questions turn out to be.
  function intentChoice() {
    var choice = el("select", { "aria-label": "correct intent" },
      el("option", { value: "", text: "choose…", disabled: "", selected: "" }));
    var intents = S.intents.filter(function (intent) { return intent !== "out_of_scope"; });
    ["out_of_scope"].concat(intents).forEach(function (intent) {
      choice.appendChild(el("option", { value: intent, text: intent }));
    });
    return choice;
  }

  // Word highlights: each review's text goes to POST /predict with explain: true, one request at a time
  // (a queue of 100 rows should not become 100 model runs at once), and the answer is kept per text for
  // the session. Asking the answering model, rather than storing explanations with every turn, keeps the
  // chat's cost unchanged and shows what the model that a label would correct makes of the text now.
  var explained = {};
  var explaining = Promise.resolve();

  function explainInto(cell, text) {
    explaining = explaining.then(function () {
      return explained[text] || api("POST", "/predict", { text: text, explain: true }).then(function (p) {
        return (explained[text] = p.explanation);
      });
    }).then(function (explanation) {
      clear(cell).appendChild(highlighted(explanation));
      cell.appendChild(el("div", { className: "meta", text: "highlighted: the words behind " + explanation.intent }));
    }).catch(function () { /* the plain text stays */ });
  }

  // Green for words that pushed towards the intent, red for words against it; the strongest word of the
  // text is the most opaque, so every row shows contrast. The exact score is the word's tooltip.
  function highlighted(explanation) {
    // offsets count code points (Python's), so slice an array of them, not the UTF-16 string
    var chars = Array.from(explanation.text), pos = 0, out = el("span", {});
    var strongest = explanation.tokens.reduce(function (m, t) { return Math.max(m, Math.abs(t.score)); }, 1e-9);
    explanation.tokens.forEach(function (t) {
      var share = t.score / strongest;
      var colour = (share >= 0 ? "34,197,94," : "239,68,68,") + (0.6 * Math.abs(share)).toFixed(2);
      out.appendChild(document.createTextNode(chars.slice(pos, t.start).join("")));
      var word = el("span", { className: "attr", text: t.token,
        title: (t.score >= 0 ? "+" : "") + t.score.toFixed(3) });
      word.style.background = "rgba(" + colour + ")";  // not a style attribute: the page's CSP refuses those
      out.appendChild(word);
      pos = t.end;
    });
    out.appendChild(document.createTextNode(chars.slice(pos).join("")));
    return out;
  }

  $("retrain").addEventListener("click", function () {
    $("retrain").disabled = true;
    api("POST", "/retrain").then(watchJob).catch(function (error) {
      $("retrain-status").textContent = error.message;
      $("retrain").disabled = false;
    });
  });

  function watchJob(job) {
    $("retrain-bar").hidden = false;
    $("retrain-bar").firstElementChild.style.width = Math.round(job.progress * 100) + "%";
    if (job.status === "running") {
      $("retrain-status").textContent = job.step === "train"
        ? "training, epoch " + job.epoch + " of " + job.epochs : job.step + "…";
      setTimeout(function () { api("GET", "/retrain/" + job.id).then(watchJob); }, 1000);
      return;
    }
    $("retrain").disabled = false;
    $("retrain-status").textContent = job.status === "succeeded"
      ? "done: model " + job.model_version + " is answering (" + job.reviewed_examples + " reviewed examples)"
      : "failed: " + job.error;
  }

  // --- clusters of unanswered questions -------------------------------------------------------------

  // GET /clusters groups the questions the bot could not answer; each group is a card offering to make it
  // an intent. The first request for a window takes seconds (the server embeds and clusters), hence the
  // status line while it runs.
  function fetchClusters(panel, days) {
    var asked = S.clustersAsked[panel] = (S.clustersAsked[panel] || 0) + 1;
    return api("GET", "/clusters?days=" + days).then(function (report) {
      if (asked !== S.clustersAsked[panel]) throw new Error("superseded");
      return report;
    });
  }

  // A group may share no term (five ways of asking "are you there?"): then no list, rather than an empty one.
  function termList(cluster, n, before, after) {
    var terms = cluster.terms.slice(0, n).map(function (t) { return t.term; });
    return terms.length ? before + terms.join(", ") + after : "";
  }

  function loadClusters() {
    var days = $("clusters-days").value;
    $("clusters-status").textContent = "Looking for unanswered questions that look alike…";
    $("clusters").setAttribute("aria-busy", "true");
    return fetchClusters("reviews", days).then(function (report) {
      $("clusters").removeAttribute("aria-busy");
      var cards = clear($("cluster-cards"));
      $("clusters-status").textContent = report.clusters.length
        ? report.unanswered + " unanswered questions in the last " + report.days + " days" +
          (report.clustered < report.unanswered ? " (the latest " + report.clustered + " grouped)" : "") + "."
        : report.unanswered
          ? "No group of three or more alike among the " + report.unanswered + " unanswered questions."
          : "No unanswered questions in the last " + report.days + " days.";
      report.clusters.forEach(function (cluster) {
        var card = clusterCard(cluster);
        cards.appendChild(card);
        if (S.focusCluster === cluster.name) {
          card.classList.add("focus");
          card.scrollIntoView({ block: "center" });
        }
      });
      S.focusCluster = null;
    }).catch(function (error) {
      if (error.message === "superseded") return;
      $("clusters").removeAttribute("aria-busy");
      $("clusters-status").textContent = "Could not group the unanswered questions: " + error.message;
    });
  }

  // "these 40 unanswered questions look alike (terms: ...); make them an intent?" with the suggested name
  function clusterCard(cluster) {
    var name = el("input", { className: "cluster-intent", value: cluster.name, maxlength: "64",
      "aria-label": "intent name", spellcheck: "false" });
    var hint = el("span", { className: "meta" });
    var note = el("span", { className: "error" });
    var examples = el("ul", { className: "examples" });
    cluster.examples.forEach(function (text) { examples.appendChild(el("li", { text: text })); });
    function described() {
      var intent = name.value.trim();
      hint.textContent = !intent ? "" : S.intents.indexOf(intent) >= 0
        ? "adds them to the existing intent" : "a new intent: the next retrain learns it";
    }
    name.addEventListener("input", described);
    described();
    var accept = el("button", { className: "accept", text: "Accept" });
    var card = el("div", { className: "card cluster", "data-name": cluster.name },
      el("p", { className: "cluster-title" },
        el("b", { text: "These " + cluster.size + " unanswered questions look alike" }),
        termList(cluster, 5, " (terms: ", ")") + "; make them an intent?",
        cluster.mixed ? el("span", { className: "badge handoff", text: "mixed: check the examples",
          title: "little cohesion: the group may hold several different needs" }) : null),
      examples,
      el("div", { className: "row" }, el("label", { text: "Intent " }, name), accept, hint, note));
    accept.addEventListener("click", function () {
      note.textContent = "";
      accept.disabled = true;
      api("POST", "/clusters/accept", { intent: name.value, turn_ids: cluster.turn_ids }).then(function (done) {
        card.remove();
        done.turn_ids.forEach(function (id) {
          var row = document.querySelector("#review-rows tr[data-turn='" + id + "']");
          if (row) row.remove();
        });
        $("clusters-status").textContent = done.turn_ids.length + " questions labelled " + done.intent +
          (done.new_intent ? ", a new intent: retrain to teach it to the bot." : ".");
        return loadReviewRows();
      }).catch(function (error) {
        accept.disabled = false;
        note.textContent = error.message;
      });
    });
    return card;
  }

  $("clusters-days").addEventListener("change", loadClusters);

  // The analytics page's panel: the groups found in its window, each linking to its card in the queue.
  function analyticsClusters(container, days) {
    clear(container).appendChild(el("p", { className: "muted", text: "Looking for unanswered questions that look alike…" }));
    return fetchClusters("analytics", days).then(function (report) {
      clear(container);
      if (!report.clusters.length) {
        container.appendChild(el("p", { className: "muted", text: report.unanswered
          ? "No group of three or more alike among " + report.unanswered + " unanswered questions."
          : "No unanswered questions in this period." }));
        return;
      }
      var list = el("ul", { className: "cluster-links" });
      report.clusters.slice(0, 6).forEach(function (cluster) {
        var link = el("a", { href: "#clusters", text: cluster.name });
        link.addEventListener("click", function (event) {
          event.preventDefault();
          S.focusCluster = cluster.name;
          $("clusters-days").value = days;
          showTab("reviews");
        });
        list.appendChild(el("li", {}, link, el("span", { className: "meta",
          text: " · " + cluster.size + " questions" + termList(cluster, 3, " · ", "") })));
      });
      container.appendChild(list);
      container.appendChild(el("p", { className: "meta", text: report.unanswered + " unanswered questions in all; " +
        "accept a group as an intent in the review queue." }));
    }).catch(function (error) {
      if (error.message !== "superseded") clear(container).appendChild(el("p", { className: "error", text: error.message }));
    });
  }

  // --- analytics -----------------------------------------------------------------------------------

  var SVG = "http://www.w3.org/2000/svg";

  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (key) { node.setAttribute(key, attrs[key]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var COLORS = { customer: "#2563eb", bot: "#93c5fd", agent: "#10b981" };

  function dayChart(container, days) {
    stackedDays(container, days, ["customer", "bot", "agent"].map(function (role) {
      return { name: role, color: COLORS[role], value: function (d) { return d[role]; } };
    }), "turns per day");
  }

  // One bar per day, a segment per series ({name, color, value(day)}), a legend below.
  function stackedDays(container, days, series, label) {
    var W = 900, H = 220, left = 36, bottom = 24, top = 10;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": label });
    var totals = days.map(function (d) { return series.reduce(function (n, s) { return n + s.value(d); }, 0); });
    var max = Math.max(1, Math.max.apply(null, totals));
    var step = (W - left - 8) / days.length;
    [0, 0.5, 1].forEach(function (f) {
      var y = H - bottom - f * (H - bottom - top);
      chart.appendChild(svg("line", { x1: left, x2: W, y1: y, y2: y, stroke: "#e2e8f0" }));
      chart.appendChild(svg("text", { x: left - 6, y: y + 4, "text-anchor": "end" }, String(Math.round(f * max))));
    });
    days.forEach(function (d, i) {
      var x = left + i * step + step * 0.15, width = Math.max(1, step * 0.7), y = H - bottom;
      series.forEach(function (s) {
        var h = s.value(d) / max * (H - bottom - top);
        if (h <= 0) return;
        y -= h;
        var bar = svg("rect", { x: x, y: y, width: width, height: h, fill: s.color });
        bar.appendChild(svg("title", {}, d.day + " " + s.name + ": " + s.value(d)));
        chart.appendChild(bar);
      });
      var every = Math.ceil(days.length / 10);
      if (i % every === 0 || i === days.length - 1) {
        chart.appendChild(svg("text", { x: x + width / 2, y: H - 6, "text-anchor": "middle" }, d.day.slice(5)));
      }
    });
    clear(container).appendChild(chart);
    var legend = el("div", { className: "legend" });
    series.forEach(function (s) {
      var swatch = el("i");
      swatch.style.background = s.color;
      legend.appendChild(el("span", {}, swatch, s.name));
    });
    container.appendChild(legend);
  }

  // out_of_scope keeps the intent chart's amber; the others take these in turn
  var TOPIC_COLORS = ["#2563eb", "#10b981", "#a855f7", "#0ea5e9", "#ec4899", "#84cc16", "#6366f1", "#14b8a6",
    "#f43f5e", "#78716c", "#1e3a8a", "#be185d"];

  function topicChart(container, trend) {
    if (!trend.topics.length) {
      clear(container).appendChild(el("p", { className: "muted", text: "No messages yet." }));
      return;
    }
    var series = trend.topics.map(function (topic, i) {
      return { name: topic, color: topic === "out_of_scope" ? "#f59e0b" : TOPIC_COLORS[i % TOPIC_COLORS.length],
        value: function (d) { return d.counts[topic] || 0; } };
    });
    series.push({ name: "other topics", color: "#cbd5e1", value: function (d) { return d.other; } });
    stackedDays(container, trend.days, series, "customer messages per day by topic");
  }

  var MOODS = { negative: "#ef4444", neutral: "#94a3b8", positive: "#22c55e" };

  // A bar per topic split by sentiment label (share of the topic's messages), counts in the tooltips.
  function topicSentimentChart(container, topics) {
    clear(container);
    if (!topics.length) {
      container.appendChild(el("p", { className: "muted",
        text: "No sentiment data yet: it appears here once sentiment analysis is enabled in kefu.yml." }));
      return;
    }
    var row = 24, W = 420, labelW = 130, barW = W - labelW - 96, H = topics.length * row + 4;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "sentiment by topic" });
    topics.forEach(function (topic, i) {
      var y = i * row + 4, x = labelW;
      chart.appendChild(svg("text", { x: labelW - 8, y: y + 13, "text-anchor": "end" }, topic.intent));
      var labels = Object.keys(MOODS).filter(function (m) { return topic.counts[m]; })
        .concat(Object.keys(topic.counts).filter(function (m) { return !MOODS[m]; }).sort());
      labels.forEach(function (mood) {
        var width = barW * topic.counts[mood] / topic.total;
        var part = svg("rect", { x: x, y: y + 2, width: width, height: row - 8, fill: MOODS[mood] || "#a78bfa",
          "data-mood": mood });
        part.appendChild(svg("title", {}, topic.intent + " " + mood + ": " + topic.counts[mood] + " of " + topic.total));
        chart.appendChild(part);
        x += width;
      });
      var negative = (topic.counts.negative || 0) / topic.total;
      chart.appendChild(svg("text", { x: labelW + barW + 6, y: y + 13 }, topic.total + " · " + pct(negative) + " neg"));
    });
    container.appendChild(chart);
    var legend = el("div", { className: "legend" });
    Object.keys(MOODS).forEach(function (mood) {
      var swatch = el("i");
      swatch.style.background = MOODS[mood];
      legend.appendChild(el("span", {}, swatch, mood));
    });
    container.appendChild(legend);
  }

  function intentChart(container, intents) {
    clear(container);
    if (!intents.length) { container.appendChild(el("p", { className: "muted", text: "No messages yet." })); return; }
    var row = 24, W = 420, labelW = 130, H = intents.length * row + 4;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "intent distribution" });
    var max = Math.max.apply(null, intents.map(function (i) { return i.share; }));
    intents.forEach(function (intent, i) {
      var y = i * row + 4, width = (W - labelW - 60) * intent.share / max;
      chart.appendChild(svg("text", { x: labelW - 8, y: y + 13, "text-anchor": "end" }, intent.intent));
      chart.appendChild(svg("rect", { x: labelW, y: y + 2, width: Math.max(width, 1), height: row - 8, rx: 3,
        fill: intent.intent === "out_of_scope" ? "#f59e0b" : "#2563eb" }));
      chart.appendChild(svg("text", { x: labelW + width + 6, y: y + 13 }, intent.count + " · " + pct(intent.share)));
    });
    container.appendChild(chart);
  }

  function sentimentChart(container, days) {
    clear(container);
    var points = days.filter(function (d) { return d.mean_score !== null; });
    if (!points.length) {
      container.appendChild(el("p", { className: "muted",
        text: "No sentiment data yet: it appears here once sentiment analysis is enabled in kefu.yml." }));
      return;
    }
    var W = 420, H = 160, pad = 24;
    var chart = svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "sentiment trend" });
    var x = function (i) { return pad + i * (W - 2 * pad) / Math.max(1, days.length - 1); };
    var y = function (v) { return H - pad - v * (H - 2 * pad); };
    chart.appendChild(svg("line", { x1: pad, x2: W - pad, y1: y(0.5), y2: y(0.5), stroke: "#e2e8f0" }));
    var marks = days.map(function (d, i) {
      return d.mean_score === null ? null : { x: x(i), y: y(d.mean_score), title: d.day + ": " + d.mean_score.toFixed(2) };
    }).filter(Boolean);
    var path = marks.map(function (p, i) { return (i ? "L" : "M") + p.x.toFixed(1) + " " + p.y.toFixed(1); });
    chart.appendChild(svg("path", { d: path.join(" "), fill: "none", stroke: "#7c3aed", "stroke-width": 2 }));
    // a dot per day with messages too: a line needs two, and a single day (a new bot's first) is one point
    marks.forEach(function (p) {
      var dot = svg("circle", { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: 3.5, fill: "#7c3aed" });
      dot.appendChild(svg("title", {}, p.title));
      chart.appendChild(dot);
    });
    chart.appendChild(svg("text", { x: 2, y: y(1) + 4 }, "1"));
    chart.appendChild(svg("text", { x: 2, y: y(0) + 4 }, "0"));
    // the window's first and last day, so that a lone dot reads as a date
    chart.appendChild(svg("text", { x: x(0), y: H - 4 }, days[0].day.slice(5)));
    chart.appendChild(svg("text", { x: x(days.length - 1), y: H - 4, "text-anchor": "end" },
      days[days.length - 1].day.slice(5)));
    container.appendChild(chart);
  }

  function loadAnalytics() {
    return api("GET", "/analytics?days=" + $("analytics-days").value).then(function (data) {
      var customer = data.turns_per_day.reduce(function (n, d) { return n + d.customer; }, 0);
      $("stat-messages").textContent = String(customer);
      $("stat-fallback").textContent = pct(data.fallback_rate);
      $("stat-handoff").textContent = pct(data.handoff_rate);
      $("stat-model").textContent = data.model_version;
      dayChart($("chart-days"), data.turns_per_day);
      intentChart($("chart-intents"), data.intents);
      sentimentChart($("chart-sentiment"), data.sentiment);
      topicChart($("chart-topics"), data.topics);
      topicSentimentChart($("chart-topic-sentiment"), data.topic_sentiment);
      analyticsClusters($("analytics-clusters"), data.days);  // not waited for: it may take seconds
    });
  }

  $("analytics-days").addEventListener("change", refresh);

  // --- users ---------------------------------------------------------------------------------------

  function loadUsers() {
    return api("GET", "/users").then(function (users) {
      var rows = clear($("user-rows"));
      users.forEach(function (user) {
        rows.appendChild(el("tr", {}, el("td", { text: user.username }), el("td", { text: user.role }),
          el("td", { text: when(user.created_at) })));
      });
    });
  }

  $("user-form").addEventListener("submit", function (event) {
    event.preventDefault();
    api("POST", "/users", {
      username: $("user-name").value, password: $("user-password").value, role: $("user-role").value
    }).then(function (user) {
      $("user-message").textContent = "created " + user.username;
      $("user-name").value = "";
      $("user-password").value = "";
      return loadUsers();
    }).catch(function (error) { $("user-message").textContent = error.message; });
  });

  start();  // the session cookie may still be valid: a 401 shows the login form
})();
