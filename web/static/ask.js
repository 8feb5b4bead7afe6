// Ask page: POST the question, read the server-sent events, render the answer as text.
// Model output is never inserted as HTML: only text nodes and elements built here.
"use strict";

(function () {
  const form = document.getElementById("ask-form");
  const csrfToken = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  if (!form) return;
  const answerEl = document.getElementById("answer");
  const statusEl = document.getElementById("status");
  const citationsEl = document.getElementById("citations");
  const button = document.getElementById("ask-button");
  const stopButton = document.getElementById("stop-button");

  const modeEl = document.getElementById("mode");
  // Follow-ups: the page keeps asking in the current conversation (of the same collection), so
  // "and for international trips?" is searched as its standalone query, shown here.
  let conversation = null;  // { id, collection } of the conversation being continued
  const newConversationButton = document.getElementById("new-conversation");
  function setConversation(value) {
    conversation = value;
    if (newConversationButton) newConversationButton.hidden = !value;
  }
  const searchedEl = document.createElement("p");
  searchedEl.id = "searched-for";
  searchedEl.className = "searched-for";
  searchedEl.hidden = true;
  answerEl.before(searchedEl);
  function showSearched(query) {
    searchedEl.textContent = query ? "Searched for: " + query : "";
    searchedEl.hidden = !query;
  }
  const UNSUPPORTED_TITLE = "not supported by the cited source";
  const UNCITED_TITLE = "not supported by the cited source: no source is cited for this statement";

  // Offsets from the server count code points; JavaScript strings count UTF-16 units.
  function cut(text, start, end) {
    return Array.from(text).slice(start, end).join("");
  }

  // Hide links and images while the raw answer streams (the final answer has none).
  function preview(text) {
    return text
      .replace(/!\[[^\]\n]*\]\([^)\n]*\)/g, "")
      .replace(/\b[a-z][a-z0-9+.-]{1,15}:\/\/\S*/gi, "");
  }

  function appendWithCites(parent, text) {
    // Split on [n] markers; markers become links to the citation, everything else is text.
    const parts = text.split(/(\[\d{1,2}\])/);
    for (const part of parts) {
      const m = /^\[(\d{1,2})\]$/.exec(part);
      if (m) {
        const a = document.createElement("a");
        a.className = "cite";
        a.href = "#cite-" + m[1];
        a.textContent = "[" + m[1] + "]";
        a.addEventListener("click", () => highlight(m[1]));
        parent.appendChild(a);
      } else if (part) {
        parent.appendChild(document.createTextNode(part));
      }
    }
  }

  function renderAnswer(text) {
    answerEl.replaceChildren();
    appendWithCites(answerEl, text);
  }

  function renderSentences(text, sentences) {
    // Each sentence in its own span; unsupported ones are marked and explain why.
    answerEl.replaceChildren();
    const points = Array.from(text);
    let pos = 0;
    for (const s of sentences) {
      if (s.start > pos) appendWithCites(answerEl, points.slice(pos, s.start).join(""));
      const span = document.createElement("span");
      span.className = "sentence";
      if (!s.supported) {
        span.classList.add("unsupported");
        span.title = s.citations.length ? UNSUPPORTED_TITLE : UNCITED_TITLE;
      }
      appendWithCites(span, points.slice(s.start, s.end).join(""));
      answerEl.appendChild(span);
      pos = s.end;
    }
    if (pos < points.length) appendWithCites(answerEl, points.slice(pos).join(""));
  }

  function highlight(n) {
    for (const li of citationsEl.querySelectorAll("li")) {
      li.classList.toggle("active", li.id === "cite-" + n);
    }
  }

  function where(item) {
    return item.document + (item.page ? ", page " + item.page : "");
  }

  function sourceLink(c) {
    // The passage in its document (with the page image when the original is a stored PDF).
    // start/end: document offsets (the cited text starts at char_start in its document).
    let href = "/sources/" + encodeURIComponent(c.chunk_id);
    if (c.span_start != null && c.span_end != null) {
      const at = c.char_start || 0;
      href += "?start=" + (at + c.span_start) + "&end=" + (at + c.span_end);
    }
    return href;
  }

  function passage(c) {
    // The cited passage as text nodes, the supporting span inside a <mark>.
    const quote = document.createElement("blockquote");
    const text = c.text || "";
    if (c.span_start == null || c.span_end == null || !text) {
      quote.textContent = c.quote;
      return quote;
    }
    const length = Array.from(text).length;
    const from = Math.max(0, c.span_start - 240);
    const to = Math.min(length, c.span_end + 240);
    const mark = document.createElement("mark");
    mark.textContent = cut(text, c.span_start, c.span_end);
    quote.append(
      (from > 0 ? "…" : "") + cut(text, from, c.span_start),
      mark,
      cut(text, c.span_end, to) + (to < length ? "…" : ""),
    );
    return quote;
  }

  function renderCitations(citations) {
    citationsEl.replaceChildren();
    for (const c of citations) {
      const li = document.createElement("li");
      li.id = "cite-" + c.n;
      li.value = c.n;
      const head = document.createElement("div");
      head.className = "where";
      const link = document.createElement("a");
      link.className = "open-source";
      link.href = sourceLink(c);
      link.target = "_blank";
      link.rel = "noopener";
      link.title = "Open the passage in its document";
      link.textContent = "[" + c.n + "] " + where(c);
      head.appendChild(link);
      if (c.heading_path) head.append(" · " + c.heading_path);
      li.append(head, passage(c));
      citationsEl.appendChild(li);
    }
  }

  function renderClosest(sources) {
    citationsEl.replaceChildren();
    const note = document.createElement("li");
    note.className = "note";
    note.textContent = "Closest passages (not used as evidence):";
    citationsEl.appendChild(note);
    for (const s of sources.slice(0, 3)) {
      const li = document.createElement("li");
      const head = document.createElement("div");
      head.className = "where";
      head.textContent = where(s) + " · score " + s.score.toFixed(2);
      const quote = document.createElement("blockquote");
      quote.textContent = s.text.slice(0, 400);
      li.append(head, quote);
      citationsEl.appendChild(li);
    }
  }

  // The answer's states, as the server reports them (state events): the status line says what
  // is happening, and a model's draft is shown greyed, labelled as a draft, until it is checked.
  const STATES = {
    searching: "Searching the documents…",
    writing: "Writing a draft answer…",
    checking: "Checking the draft against its sources…",
    no_evidence: "The documents do not answer this.",
  };
  const DRAFT_NOTES = {
    writing: "Draft, being written: it is checked against its sources when it is done.",
    checking: "Draft, being checked against its sources…",
  };
  const draftNote = document.createElement("p");
  draftNote.id = "draft-note";
  draftNote.className = "draft-note";
  draftNote.hidden = true;
  answerEl.before(draftNote);

  function showDraft(state) {
    // state: "writing", "checking", or null (no draft shown any more)
    const note = state ? DRAFT_NOTES[state] : "";
    draftNote.textContent = note || "";
    draftNote.hidden = !note;
    answerEl.classList.toggle("draft", Boolean(note));
    if (note) answerEl.dataset.draft = state;
    else delete answerEl.dataset.draft;
  }

  function replacedNotice(event) {
    return event.mode === "extractive"
      ? "The model's draft was not supported by the sources; showing quotes instead."
      : "The model's draft could not be verified against the sources.";
  }

  function handle(event, state) {
    if (event.event === "state") {
      state.state = event.state;
      answerEl.dataset.state = event.state;
      statusEl.textContent = STATES[event.state] || "";
      if (event.state === "writing" || event.state === "checking") showDraft(event.state);
    } else if (event.event === "sources") {
      showSearched(event.search_query);
      statusEl.textContent = "Found " + event.sources.length + " passages.";
    } else if (event.event === "token") {
      state.text += event.text;
      renderAnswer(preview(state.text));
    } else if (event.event === "done") {
      const sentences = event.sentences || [];
      showDraft(null);
      if (sentences.length && !event.abstained) renderSentences(event.answer, sentences);
      else renderAnswer(event.answer);
      answerEl.dataset.mode = event.mode || "generative";
      answerEl.dataset.state = "done";
      if (event.draft) answerEl.dataset.checked = event.draft;  // kept | replaced
      if (event.abstained) {
        statusEl.textContent = "The documents do not answer this.";
        renderClosest(event.sources || []);
      } else {
        let status = event.citations.length
          ? "Answer with " + event.citations.length + " citation(s) · " + event.model
          : "No citation could be matched to the answer · " + event.model;
        const flagged = sentences.filter((s) => !s.supported).length;
        if (flagged) status += " · " + flagged + " sentence(s) not supported by the cited source";
        statusEl.textContent = status;
        renderCitations(event.citations);
      }
      if (event.draft === "replaced" && !event.abstained) {
        // the draft the reader saw is gone: say so, never swap the text silently
        modeEl.textContent = replacedNotice(event);
        modeEl.classList.add("replaced");
        modeEl.hidden = false;
      } else if (event.draft === "skipped" && !event.abstained) {
        modeEl.textContent = "Quoted word for word from the sources: the model's recent answers"
          + " here were rarely supported by them, so it was not asked.";
        modeEl.hidden = false;
      } else if (event.mode === "extractive" && !event.abstained) {
        modeEl.textContent = "Extractive answer: quoted word for word from the sources.";
        modeEl.hidden = false;
      }
      showFeedback(event.evidence_id);
      if (event.conversation_id) {
        setConversation({ id: event.conversation_id, collection: state.collection });
      }
      answerEl.dataset.done = "1";
    } else if (event.event === "error") {
      showDraft(null);
      statusEl.textContent = event.message;
    }
  }

  // Feedback: thumbs up / down (and an optional comment) on the answer shown, stored with its
  // evidence record; rating again replaces the earlier rating.
  const feedbackEl = document.getElementById("feedback");
  const feedbackStatus = document.getElementById("feedback-status");
  const feedbackComment = document.getElementById("feedback-comment");
  const thumbs = feedbackEl ? Array.from(feedbackEl.querySelectorAll("button.thumb")) : [];

  function hideFeedback() {
    if (!feedbackEl) return;
    feedbackEl.hidden = true;
    delete feedbackEl.dataset.evidence;
    delete feedbackEl.dataset.rating;
  }

  function pressThumb(rating) {
    for (const b of thumbs) {
      b.setAttribute("aria-pressed", b.dataset.rating === rating ? "true" : "false");
    }
  }

  // rated: the earlier rating of a reopened answer ({rating, comment}), or none.
  function showFeedback(evidenceId, rated) {
    if (!feedbackEl || !evidenceId) return;
    feedbackEl.dataset.evidence = String(evidenceId);
    delete feedbackEl.dataset.rating;
    if (rated) feedbackEl.dataset.rating = rated.rating;
    pressThumb(rated ? rated.rating : null);
    feedbackComment.value = rated ? rated.comment : "";
    feedbackStatus.textContent = rated ? "You rated this answer earlier: "
      + (rated.rating === "up" ? "thumbs up" : "thumbs down")
      + (rated.comment ? ", with the comment below." : ".") : "";
    feedbackEl.hidden = false;
  }

  async function sendFeedback(rating) {
    const evidenceId = feedbackEl.dataset.evidence;
    if (!evidenceId) return;
    if (!rating) {
      feedbackStatus.textContent = "Choose thumbs up or thumbs down first.";
      return;
    }
    const comment = feedbackComment.value.trim();
    feedbackStatus.textContent = "Saving…";
    try {
      const resp = await fetch("/api/v1/answers/" + encodeURIComponent(evidenceId) + "/feedback", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRFToken": csrfToken() },
        body: JSON.stringify(comment ? { rating, comment } : { rating }),
      });
      if (feedbackEl.dataset.evidence !== evidenceId) return;  // another answer is shown now
      if (!resp.ok) {
        let message = "Your rating was not saved (" + resp.status + ")";
        try { message = (await resp.json()).error || message; } catch (_) { /* not JSON */ }
        feedbackStatus.textContent = message;
        return;
      }
      const saved = await resp.json();
      feedbackEl.dataset.rating = saved.rating;
      pressThumb(saved.rating);
      feedbackStatus.textContent = "Thank you: your "
        + (saved.rating === "up" ? "thumbs up" : "thumbs down")
        + (saved.comment ? " and comment were" : " was") + " saved.";
    } catch (err) {
      feedbackStatus.textContent = "Your rating was not saved: " + err;
    }
  }

  for (const b of thumbs) b.addEventListener("click", () => sendFeedback(b.dataset.rating));
  const feedbackSend = document.getElementById("feedback-send");
  if (feedbackSend) {
    feedbackSend.addEventListener("click", () => sendFeedback(feedbackEl.dataset.rating));
  }

  // History: your earlier questions (from /api/v1/conversations), shown as text only.
  const historyEl = document.getElementById("history");
  async function loadHistory() {
    if (!historyEl) return;
    try {
      const resp = await fetch("/api/v1/conversations", { headers: { "Accept": "application/json" } });
      if (!resp.ok) return;
      const items = (await resp.json()).conversations.slice(0, 10);
      historyEl.replaceChildren();
      for (const c of items) {
        const li = document.createElement("li");
        const btn = document.createElement("button");
        btn.type = "button";
        btn.className = "linkish";
        btn.textContent = c.title;
        btn.addEventListener("click", () => showConversation(c.id));
        li.appendChild(btn);
        historyEl.appendChild(li);
      }
    } catch (_) { /* history is optional */ }
  }

  async function showConversation(id) {
    const resp = await fetch("/api/v1/conversations/" + encodeURIComponent(id),
                             { headers: { "Accept": "application/json" } });
    if (!resp.ok) return;
    const conv = await resp.json();
    const last = conv.turns[conv.turns.length - 1];
    if (!last) return;
    citationsEl.replaceChildren();
    modeEl.hidden = true;
    statusEl.textContent = "Earlier question: " + last.question;
    showSearched(last.search_query);
    setConversation({ id: conv.id, collection: conv.collection });  // follow-ups continue it
    if (window.enclaveSetScope) window.enclaveSetScope(conv.collection);  // ... in its scope
    renderAnswer(last.answer);
    showDraft(null);
    if (last.mode === "stopped") markStopped({ text: last.answer }, true);
    showFeedback(last.id, last.feedback);
    answerEl.dataset.history = "1";
  }

  loadHistory();
  // A conversation's page links here with ?conversation=<id> to continue it.
  const continued = new URLSearchParams(window.location.search).get("conversation");
  if (continued && /^\d{1,19}$/.test(continued)) showConversation(continued);

  // Stop: while an answer streams, the Stop button (or Escape) aborts the request; the partial
  // answer stays, marked as stopped in words (it was not checked against its sources).
  let streaming = null;  // the AbortController of the answer streaming now
  function stopStreaming() {
    if (streaming) streaming.abort();
  }
  stopButton.addEventListener("click", stopStreaming);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && streaming) {
      e.preventDefault();
      stopStreaming();
    }
  });

  // New conversation: the next question is searched on its own words, not as a follow-up.
  if (newConversationButton) {
    newConversationButton.addEventListener("click", () => {
      setConversation(null);
      answerEl.replaceChildren();
      delete answerEl.dataset.done;
      citationsEl.replaceChildren();
      modeEl.hidden = true;
      showDraft(null);
      if (feedbackEl) feedbackEl.hidden = true;
      showSearched(null);
      statusEl.textContent = "New conversation: your next question is searched on its own.";
      document.getElementById("question").focus();
    });
  }

  // earlier: a stopped answer reopened from the history (the status line is left alone)
  function markStopped(state, earlier) {
    answerEl.dataset.stopped = "1";
    showDraft(null);
    const note = document.createElement("span");
    note.className = "stopped-note";
    note.textContent = state.text
      ? "Stopped: this answer is incomplete and was not checked against its sources."
      : "Stopped before an answer was written.";
    answerEl.appendChild(note);
    if (!earlier) statusEl.textContent = "Stopped.";
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = document.getElementById("question").value.trim();
    // The scope (scope.js): one collection, several, or all you can read; its key is the
    // conversation's "collection" label ("a", "a,b" or "*").
    const scope = window.enclaveScope ? window.enclaveScope() : {};
    const collection = window.enclaveScopeKey ? window.enclaveScopeKey() : "*";
    if (!question) return;
    answerEl.replaceChildren();
    hideFeedback();
    delete answerEl.dataset.done;
    delete answerEl.dataset.mode;
    delete answerEl.dataset.stopped;
    delete answerEl.dataset.state;
    delete answerEl.dataset.checked;
    showDraft(null);
    modeEl.hidden = true;
    modeEl.textContent = "";
    modeEl.classList.remove("replaced");
    citationsEl.replaceChildren();
    statusEl.textContent = "Searching…";
    const controller = new AbortController();
    streaming = controller;
    const refocus = document.activeElement === button;
    button.disabled = true;
    stopButton.hidden = false;
    if (newConversationButton) newConversationButton.hidden = true;  // back once it has ended
    if (refocus) stopButton.focus();  // the disabled Ask button would drop the focus
    answerEl.setAttribute("aria-busy", "true");  // read the answer once, not token by token
    const state = { text: "", collection, state: null };
    showSearched(null);
    const body = Object.assign({ question, stream: true }, scope);
    if (conversation && conversation.collection === collection) {
      body.conversation_id = conversation.id;
    }
    try {
      const resp = await fetch("/api/v1/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream",
                   "X-CSRFToken": csrfToken() },
        body: JSON.stringify(body),
        signal: controller.signal,
      });
      if (!resp.ok) {
        let message = "Request failed (" + resp.status + ")";
        try { message = (await resp.json()).error || message; } catch (_) { /* not JSON */ }
        statusEl.textContent = message;
        return;
      }
      const reader = resp.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let cut;
        while ((cut = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (data) handle(JSON.parse(data), state);
        }
      }
    } catch (err) {
      if (!controller.signal.aborted) {
        showDraft(null);
        statusEl.textContent = "Connection failed: " + err;
      } else if (!answerEl.dataset.done) markStopped(state);
    } finally {
      streaming = null;
      const hadFocus = document.activeElement === stopButton;
      stopButton.hidden = true;
      setConversation(conversation);
      answerEl.removeAttribute("aria-busy");
      button.disabled = false;
      if (hadFocus) button.focus();
      loadHistory();
    }
  });
})();
