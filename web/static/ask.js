// Ask page: POST the question, read the server-sent events, render the answer as text.
// Model output is never inserted as HTML: only text nodes and elements built here.
"use strict";

(function () {
  const form = document.getElementById("ask-form");
  if (!form) return;
  const answerEl = document.getElementById("answer");
  const statusEl = document.getElementById("status");
  const citationsEl = document.getElementById("citations");
  const button = document.getElementById("ask-button");

  function renderAnswer(text) {
    // Split on [n] markers; markers become links to the citation, everything else is text.
    answerEl.replaceChildren();
    const parts = text.split(/(\[\d{1,2}\])/);
    for (const part of parts) {
      const m = /^\[(\d{1,2})\]$/.exec(part);
      if (m) {
        const a = document.createElement("a");
        a.className = "cite";
        a.href = "#cite-" + m[1];
        a.textContent = "[" + m[1] + "]";
        a.addEventListener("click", () => highlight(m[1]));
        answerEl.appendChild(a);
      } else if (part) {
        answerEl.appendChild(document.createTextNode(part));
      }
    }
  }

  function highlight(n) {
    for (const li of citationsEl.querySelectorAll("li")) {
      li.classList.toggle("active", li.id === "cite-" + n);
    }
  }

  function where(item) {
    return item.document + (item.page ? ", page " + item.page : "");
  }

  function renderCitations(citations) {
    citationsEl.replaceChildren();
    for (const c of citations) {
      const li = document.createElement("li");
      li.id = "cite-" + c.n;
      li.value = c.n;
      const head = document.createElement("div");
      head.className = "where";
      head.textContent = "[" + c.n + "] " + where(c) + (c.heading_path ? " · " + c.heading_path : "");
      const quote = document.createElement("blockquote");
      quote.textContent = c.quote;
      li.append(head, quote);
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

  function handle(event, state) {
    if (event.event === "sources") {
      statusEl.textContent = "Found " + event.sources.length + " passages; writing the answer…";
    } else if (event.event === "token") {
      state.text += event.text;
      renderAnswer(state.text);
    } else if (event.event === "done") {
      renderAnswer(event.answer);
      if (event.abstained) {
        statusEl.textContent = "The documents do not answer this.";
        renderClosest(event.sources || []);
      } else {
        statusEl.textContent = event.citations.length
          ? "Answer with " + event.citations.length + " citation(s) · " + event.model
          : "No citation could be matched to the answer · " + event.model;
        renderCitations(event.citations);
      }
      answerEl.dataset.done = "1";
    } else if (event.event === "error") {
      statusEl.textContent = event.message;
    }
  }

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = document.getElementById("question").value.trim();
    const collection = document.getElementById("collection").value;
    if (!question || !collection) return;
    answerEl.replaceChildren();
    delete answerEl.dataset.done;
    citationsEl.replaceChildren();
    statusEl.textContent = "Searching…";
    button.disabled = true;
    const state = { text: "" };
    try {
      const resp = await fetch("/api/v1/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json", "Accept": "text/event-stream" },
        body: JSON.stringify({ question, collection, stream: true }),
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
      statusEl.textContent = "Connection failed: " + err;
    } finally {
      button.disabled = false;
    }
  });
})();
