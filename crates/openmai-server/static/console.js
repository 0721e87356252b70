// OpenMai console: confirmation before destructive forms, copy-to-clipboard, closing the
// account menu on an outside click, knowledge-file uploads with live statuses, and the chat
// page with streamed answers. No inline scripts (the Content-Security-Policy forbids them).
(function () {
  "use strict";

  // <form data-confirm="…">: ask before submitting.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form && form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  }, true);

  function copied(button) {
    var label = button.getAttribute("data-copied");
    if (label) {
      button.textContent = label;
    }
  }

  function copyByCommand(input, button) {
    input.focus();
    input.select();
    try {
      if (document.execCommand("copy")) {
        copied(button);
      }
    } catch (ignored) {
      // Selecting the text still lets the user copy it by hand.
    }
  }

  document.addEventListener("click", function (event) {
    // <button data-copy-target="input-id">: copy that input's value.
    var button = event.target.closest && event.target.closest("[data-copy-target]");
    if (button) {
      var input = document.getElementById(button.getAttribute("data-copy-target"));
      if (input) {
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(
            function () { copied(button); },
            function () { copyByCommand(input, button); }
          );
        } else {
          copyByCommand(input, button);
        }
      }
    }
    // Close open dropdowns when clicking elsewhere.
    var open = document.querySelectorAll("details.dropdown[open]");
    for (var i = 0; i < open.length; i++) {
      if (!open[i].contains(event.target)) {
        open[i].removeAttribute("open");
      }
    }
  });

  // Knowledge files: uploads with a progress bar per file, as API clients upload (a signed
  // form from the server, a multipart POST of its fields and the file to storage, then
  // registering the key), and statuses that update while files are processed.
  var panel = document.getElementById("files-panel");
  var pollTimer = null;

  function pendingIds() {
    if (!panel) {
      return [];
    }
    var rows = panel.querySelectorAll(
      'tr[data-status="initial"], tr[data-status="processing"], tr[data-status="deleting"]'
    );
    var ids = [];
    for (var i = 0; i < rows.length; i++) {
      ids.push(rows[i].getAttribute("data-id"));
    }
    return ids;
  }

  function updateRow(file) {
    var row = panel.querySelector('tr[data-id="' + file.id + '"]');
    if (!row) {
      return;
    }
    row.setAttribute("data-status", file.status);
    var badge = row.querySelector('[data-testid="file-status"]');
    if (badge) {
      badge.className = "badge status-" + file.status;
      badge.textContent = file.statusLabel;
    }
    var reason = row.querySelector('[data-testid="file-failed-reason"]');
    if (reason) {
      reason.textContent = file.failedReason || "\u2014";
    }
    var chunks = row.querySelector('[data-testid="file-chunks"]');
    if (chunks) {
      chunks.textContent = String(file.chunksCount);
    }
  }

  function schedulePoll() {
    if (!pollTimer && pendingIds().length) {
      pollTimer = window.setTimeout(poll, 2000);
    }
  }

  function poll() {
    pollTimer = null;
    var ids = pendingIds();
    if (!ids.length) {
      return;
    }
    var url = panel.getAttribute("data-status") + "?ids=" + encodeURIComponent(ids.join(","));
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) {
        if (data && data.files) {
          var seen = {};
          data.files.forEach(function (file) {
            seen[file.id] = true;
            updateRow(file);
          });
          // A file deleted meanwhile is no longer waited for.
          ids.forEach(function (id) {
            var row = !seen[id] && panel.querySelector('tr[data-id="' + id + '"]');
            if (row) {
              row.setAttribute("data-status", "gone");
            }
          });
        }
        schedulePoll();
      }, schedulePoll);
  }

  // Reloads the files table (page 1: new files come first), then follows its statuses.
  function refreshFiles() {
    var url = panel.getAttribute("data-refresh");
    return fetch(url, { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html) {
          var page = new DOMParser().parseFromString(html, "text/html");
          var fresh = page.getElementById("files-panel");
          if (fresh) {
            panel.innerHTML = fresh.innerHTML;
            if (window.location.search && window.history.replaceState) {
              window.history.replaceState(null, "", url);
            }
          }
        }
        schedulePoll();
      }, schedulePoll);
  }

  if (panel) {
    schedulePoll();
  }

  var uploader = document.getElementById("uploader");

  function say(name) {
    return uploader.getAttribute("data-text-" + name) || name;
  }

  function postJson(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": uploader.getAttribute("data-csrf")
      },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(
        function (json) { return { ok: response.ok, body: json }; },
        function () { return { ok: response.ok, body: null }; }
      );
    });
  }

  // The first message in an error body (`{detail}`, `{field: [...]}`, nested lists).
  function firstMessage(body) {
    if (typeof body === "string") {
      return body;
    }
    if (body && typeof body === "object") {
      var keys = Object.keys(body);
      for (var i = 0; i < keys.length; i++) {
        var found = firstMessage(body[keys[i]]);
        if (found) {
          return found;
        }
      }
    }
    return "";
  }

  function addItem(file) {
    var item = document.createElement("li");
    item.className = "upload-item";
    item.setAttribute("data-testid", "upload-item");
    var name = document.createElement("span");
    name.className = "upload-name";
    name.textContent = file.name;
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("data-testid", "upload-progress");
    var state = document.createElement("span");
    state.className = "upload-state";
    state.setAttribute("data-testid", "upload-state");
    state.textContent = say("waiting");
    item.appendChild(name);
    item.appendChild(bar);
    item.appendChild(state);
    document.getElementById("upload-list").appendChild(item);
    return { item: item, bar: bar, state: state };
  }

  function failed(view, message) {
    view.item.classList.add("is-failed");
    view.state.textContent = say("failed") + (message ? ": " + message : "");
    return false;
  }

  // Sends the signed form's fields, then the file, with progress; resolves to the status.
  function send(form, file, view) {
    return new Promise(function (resolve) {
      var data = new FormData();
      Object.keys(form.fields).forEach(function (name) {
        data.append(name, form.fields[name]);
      });
      data.append("file", file);
      var request = new XMLHttpRequest();
      request.open("POST", form.url);
      request.upload.addEventListener("progress", function (event) {
        if (event.lengthComputable && event.total > 0) {
          view.bar.value = Math.round((event.loaded / event.total) * 100);
        }
      });
      request.addEventListener("load", function () { resolve(request.status); });
      request.addEventListener("error", function () { resolve(0); });
      request.addEventListener("abort", function () { resolve(0); });
      request.send(data);
    });
  }

  function uploadOne(file) {
    var view = addItem(file);
    var dot = file.name.lastIndexOf(".");
    var extension = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : "";
    var allowed = uploader.getAttribute("data-extensions").split(",");
    if (allowed.indexOf(extension) < 0) {
      return Promise.resolve(failed(view, say("bad-type")));
    }
    if (file.size > Number(uploader.getAttribute("data-max-bytes"))) {
      return Promise.resolve(failed(view, say("too-large")));
    }
    view.state.textContent = say("uploading");
    var key = null;
    return postJson(uploader.getAttribute("data-presign"), {
      filename: file.name,
      fileSize: file.size
    })
      .then(function (presigned) {
        if (!presigned.ok) {
          throw new Error(firstMessage(presigned.body));
        }
        key = presigned.body.fields.key;
        return send(presigned.body, file, view);
      })
      .then(function (status) {
        if (status < 200 || status >= 300) {
          throw new Error(status ? "HTTP " + status : "");
        }
        view.bar.value = 100;
        view.state.textContent = say("registering");
        return postJson(uploader.getAttribute("data-register"), {
          files: [{ file: key, filename: file.name }]
        });
      })
      .then(function (registered) {
        if (!registered.ok) {
          throw new Error(firstMessage(registered.body));
        }
        view.item.classList.add("is-done");
        view.state.textContent = say("done");
        return true;
      })
      .catch(function (error) { return failed(view, error && error.message); });
  }

  // Uploads one file after another, then shows them in the table.
  function uploadAll(files) {
    var list = Array.prototype.slice.call(files);
    if (!list.length) {
      return;
    }
    var chain = Promise.resolve(false);
    var any = false;
    list.forEach(function (file) {
      chain = chain.then(function () { return uploadOne(file); }).then(function (ok) {
        any = any || ok;
      });
    });
    chain.then(function () {
      if (any && panel) {
        refreshFiles();
      }
    });
  }

  if (uploader) {
    var input = document.getElementById("file-input");
    input.addEventListener("change", function () {
      uploadAll(input.files);
      input.value = "";
    });
    var zone = document.getElementById("dropzone");
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) {
        event.preventDefault();
        zone.classList.add("is-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function () { zone.classList.remove("is-over"); });
    });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      if (event.dataTransfer) {
        uploadAll(event.dataTransfer.files);
      }
    });
  }

  // The chat page: answers streamed from the completions API (a POST, so fetch and a stream
  // reader rather than EventSource), each answer's citations once it is complete, and the
  // assistant's recent conversations. Text from people and models only ever goes in through
  // textContent.
  var chat = document.getElementById("chat");

  function element(tag, className, content) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (content !== undefined && content !== null) {
      node.textContent = String(content);
    }
    return node;
  }

  // The message of an error response: its `detail` (or first field error) and the status.
  function responseError(response) {
    return response.text().then(function (body) {
      var message = "";
      try {
        message = firstMessage(JSON.parse(body));
      } catch (ignored) {
        message = "";
      }
      return new Error((message || response.statusText || "HTTP") + " (" + response.status + ")");
    }, function () {
      return new Error("HTTP " + response.status);
    });
  }

  function setUpChat(root) {
    var chatbot = root.getAttribute("data-chatbot");
    var csrf = root.getAttribute("data-csrf");
    var messages = document.getElementById("chat-messages");
    var empty = document.getElementById("chat-empty");
    var alertBox = document.getElementById("chat-error");
    var form = document.getElementById("chat-form");
    var input = document.getElementById("chat-input");
    var sendButton = document.getElementById("chat-send");
    var list = document.getElementById("conversation-list");
    var none = document.getElementById("no-conversations");
    var current = null;
    // The answer being streamed: its AbortController (or true without one), else null.
    var busy = null;
    // Bumped whenever the view changes; late results of an older view are dropped.
    var view = 0;
    var listRequest = 0;

    function say(name) {
      var text = root.getAttribute("data-text-" + name);
      return text === null ? name : text;
    }

    function pageLabel(number) {
      return say("page").replace("{n}", String(number));
    }

    // Adds a line to the error box (another failure does not hide the first).
    function showError(message) {
      alertBox.appendChild(element("div", null, message));
      alertBox.hidden = false;
    }

    function hideError() {
      alertBox.hidden = true;
      alertBox.textContent = "";
    }

    function getJson(url) {
      return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            return responseError(response).then(function (error) { throw error; });
          }
          return response.json();
        }, function () {
          throw new Error(say("network"));
        });
    }

    function nearBottom() {
      return messages.scrollHeight - messages.scrollTop - messages.clientHeight < 80;
    }

    function scrollDown(force) {
      if (force || nearBottom()) {
        messages.scrollTop = messages.scrollHeight;
      }
    }

    function addMessage(role, content) {
      var follow = nearBottom();
      empty.hidden = true;
      var item = element("div", "chat-message is-" + role);
      item.setAttribute("data-testid", "chat-message");
      item.setAttribute("data-role", role);
      item.appendChild(element("div", "chat-who", say(role === "user" ? "you" : "assistant")));
      var bubble = element("div", "chat-bubble", content);
      bubble.setAttribute("data-testid", "message-content");
      item.appendChild(bubble);
      messages.appendChild(item);
      scrollDown(follow);
      return { item: item, bubble: bubble };
    }

    function clearMessages() {
      var old = messages.querySelectorAll(".chat-message");
      for (var i = 0; i < old.length; i++) {
        old[i].parentNode.removeChild(old[i]);
      }
      empty.hidden = false;
    }

    function markFailed(answer, message) {
      answer.item.setAttribute("data-state", "failed");
      answer.bubble.classList.remove("is-waiting");
      var note = element("div", "chat-message-error", message);
      note.setAttribute("data-testid", "message-error");
      note.setAttribute("role", "alert");
      answer.item.appendChild(note);
    }

    // Under an answer: the cited files (with their pages) and, folded, the cited passages.
    function showCitations(answer, message) {
      var files = message.citations || [];
      var nodes = message.citationNodes || [];
      if (!files.length && !nodes.length) {
        return;
      }
      var box = element("div", "chat-citations");
      box.setAttribute("data-testid", "citations");
      box.appendChild(element("div", "chat-citations-title", say("citations")));
      if (files.length) {
        var fileList = element("ul", "citation-files");
        files.forEach(function (file) {
          var pages = [];
          nodes.forEach(function (cited) {
            var node = cited.chatbotTextNode || {};
            var page = node.pageNumber;
            if (node.filename === file.filename && page !== null && page !== undefined &&
                pages.indexOf(page) < 0) {
              pages.push(page);
            }
          });
          pages.sort(function (a, b) { return a - b; });
          var item = element("li", "citation-file");
          var link = element("a", null, file.filename);
          if (file.file) {
            link.href = file.file;
          }
          link.target = "_blank";
          link.rel = "noopener";
          link.setAttribute("data-testid", "citation-file");
          item.appendChild(link);
          if (pages.length) {
            var where = element("span", "muted citation-pages", pages.map(pageLabel).join(", "));
            where.setAttribute("data-testid", "citation-pages");
            item.appendChild(where);
          }
          fileList.appendChild(item);
        });
        box.appendChild(fileList);
      }
      if (nodes.length) {
        var details = element("details", "citation-passages");
        details.setAttribute("data-testid", "citation-passages");
        details.appendChild(element("summary", null, say("passages") + " (" + nodes.length + ")"));
        nodes.forEach(function (cited) {
          var node = cited.chatbotTextNode || {};
          var passage = element("div", "citation-passage");
          passage.setAttribute("data-testid", "citation-passage");
          var meta = element("div", "citation-meta");
          if (node.filename) {
            meta.appendChild(element("span", "strong", node.filename));
          }
          if (node.pageNumber !== null && node.pageNumber !== undefined) {
            meta.appendChild(element("span", "muted", pageLabel(node.pageNumber)));
          }
          if (cited.displayScore) {
            meta.appendChild(element("span", "muted", say("score") + " " + cited.displayScore));
          }
          passage.appendChild(meta);
          var body = element("div", "passage", node.text || "");
          body.setAttribute("data-testid", "citation-text");
          passage.appendChild(body);
          details.appendChild(passage);
        });
        box.appendChild(details);
      }
      var follow = nearBottom();
      answer.item.appendChild(box);
      scrollDown(follow);
    }

    function formatTime(value) {
      var date = new Date(Number(value));
      if (isNaN(date.getTime())) {
        return "";
      }
      try {
        return new Intl.DateTimeFormat(document.documentElement.lang || undefined, {
          month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit"
        }).format(date);
      } catch (ignored) {
        return date.toLocaleString();
      }
    }

    function markCurrent() {
      var items = list.querySelectorAll(".conversation-item");
      for (var i = 0; i < items.length; i++) {
        var active = items[i].getAttribute("data-id") === current;
        items[i].classList.toggle("is-active", active);
        var button = items[i].querySelector("button");
        if (active) {
          button.setAttribute("aria-current", "true");
        } else {
          button.removeAttribute("aria-current");
        }
      }
    }

    function loadConversations() {
      var mine = ++listRequest;
      var url = "/api/v1/conversations/?chatbot=" + encodeURIComponent(chatbot) + "&pageSize=30";
      return getJson(url).then(function (page) {
        if (mine !== listRequest) {
          return;
        }
        var results = page.results || [];
        list.textContent = "";
        none.hidden = results.length > 0;
        results.forEach(function (conversation) {
          var item = element("li", "conversation-item");
          item.setAttribute("data-testid", "conversation-item");
          item.setAttribute("data-id", conversation.id);
          var button = element("button", "conversation-button");
          button.type = "button";
          var title = element("span", "conversation-title", conversation.title || say("untitled"));
          title.setAttribute("data-testid", "conversation-title");
          button.appendChild(title);
          var last = conversation.lastMessage && conversation.lastMessage.content;
          if (last) {
            button.appendChild(element("span", "conversation-preview", last));
          }
          button.appendChild(element("span", "conversation-time",
            formatTime(conversation.lastMessageCreatedAt || conversation.createdAt)));
          button.addEventListener("click", function () { openConversation(conversation.id); });
          item.appendChild(button);
          list.appendChild(item);
        });
        markCurrent();
      }, function (error) {
        showError(say("load-failed") + error.message);
      });
    }

    // Keeps `?conversation=` in the address, so a reload reopens the conversation.
    function rememberConversation() {
      if (!window.history.replaceState || !window.URLSearchParams) {
        return;
      }
      var params = new URLSearchParams(window.location.search);
      if (current) {
        params.set("conversation", current);
      } else {
        params.delete("conversation");
      }
      var query = params.toString();
      window.history.replaceState(null, "", window.location.pathname + (query ? "?" + query : ""));
    }

    function setBusy(controller) {
      busy = controller;
      sendButton.disabled = !!controller;
      messages.setAttribute("aria-busy", controller ? "true" : "false");
    }

    // Leaves the answer being streamed (the server keeps what was written so far).
    function stop() {
      if (busy && busy !== true) {
        busy.abort();
      }
      setBusy(null);
    }

    function switchTo(id) {
      stop();
      view += 1;
      current = id;
      clearMessages();
      hideError();
      markCurrent();
      rememberConversation();
    }

    function openConversation(id) {
      switchTo(id);
      var mine = view;
      var url = "/api/v1/messages/?conversation=" + encodeURIComponent(id) + "&pageSize=200";
      getJson(url).then(function (page) {
        if (mine !== view) {
          return;
        }
        // Newest first from the API; oldest first on the page.
        var found = (page.results || []).slice().reverse();
        found.forEach(function (message) {
          var role = message.type === "incoming" ? "user" : "assistant";
          var shown = addMessage(role, message.content);
          if (role === "assistant") {
            if (message.status === "failed") {
              markFailed(shown, say("reply-failed"));
            } else {
              shown.item.setAttribute("data-state", "done");
            }
            showCitations(shown, message);
          }
        });
        scrollDown(true);
      }, function (error) {
        if (mine === view) {
          showError(say("load-failed") + error.message);
        }
      });
    }

    // The stored reply (newest message of the conversation) with its citations.
    function finishAnswer(answer, mine) {
      var url = "/api/v1/messages/?conversation=" + encodeURIComponent(current) + "&pageSize=2";
      return getJson(url).then(function (page) {
        if (mine !== view) {
          return;
        }
        var reply = (page.results || []).filter(function (m) { return m.type === "outgoing"; })[0];
        if (reply) {
          showCitations(answer, reply);
        }
        answer.item.setAttribute("data-state", "done");
      }, function (error) {
        if (mine === view) {
          answer.item.setAttribute("data-state", "done");
          showError(say("load-failed") + error.message);
        }
      });
    }

    function ask(question) {
      hideError();
      var mine = view;
      var asked = addMessage("user", question);
      var answer = addMessage("assistant", say("thinking"));
      answer.item.setAttribute("data-state", "waiting");
      answer.bubble.classList.add("is-waiting");
      var controller = window.AbortController ? new window.AbortController() : null;
      setBusy(controller || true);
      var text = "";
      var finished = false;
      var failure = null;
      var started = false;

      function onEvent(block) {
        var data = [];
        block.split("\n").forEach(function (line) {
          if (line.indexOf("data:") === 0) {
            data.push(line.slice(line.charAt(5) === " " ? 6 : 5));
          }
        });
        if (!data.length) {
          return; // A comment: the server keeping the connection open.
        }
        var event = JSON.parse(data.join("\n"));
        if (mine !== view) {
          return;
        }
        if (event.conversationId && current !== event.conversationId) {
          current = event.conversationId;
          rememberConversation();
        }
        if (event.content) {
          if (!started) {
            started = true;
            answer.bubble.classList.remove("is-waiting");
            answer.item.setAttribute("data-state", "streaming");
          }
          var follow = nearBottom();
          text += event.content;
          answer.bubble.textContent = text;
          scrollDown(follow);
        }
        if (event.done) {
          finished = true;
          if (event.error) {
            failure = event.error;
          }
        }
      }

      function read(response) {
        var type = response.headers.get("content-type") || "";
        if (type.indexOf("application/json") >= 0) {
          return response.json().then(function (whole) {
            onEvent("data: " + JSON.stringify(whole));
          });
        }
        if (!response.body || !response.body.getReader || !window.TextDecoder) {
          return response.text().then(function (all) {
            all.replace(/\r\n?/g, "\n").split("\n\n").forEach(onEvent);
          });
        }
        var reader = response.body.getReader();
        var decoder = new window.TextDecoder();
        var buffer = "";
        function drain(last) {
          buffer = buffer.replace(/\r\n/g, "\n");
          var cut = buffer.indexOf("\n\n");
          while (cut >= 0) {
            onEvent(buffer.slice(0, cut));
            buffer = buffer.slice(cut + 2);
            cut = buffer.indexOf("\n\n");
          }
          if (last && buffer.trim()) {
            onEvent(buffer);
            buffer = "";
          }
        }
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) {
              buffer += decoder.decode();
              drain(true);
              return undefined;
            }
            buffer += decoder.decode(chunk.value, { stream: true });
            drain(false);
            return pump();
          });
        }
        return pump();
      }

      fetch("/api/v1/chatbots/" + encodeURIComponent(chatbot) + "/completions/", {
        method: "POST",
        credentials: "same-origin",
        headers: {
          "Content-Type": "application/json",
          Accept: "text/event-stream",
          "X-CSRFToken": csrf
        },
        body: JSON.stringify({
          conversation: current,
          message: { content: question },
          isStreaming: true
        }),
        signal: controller ? controller.signal : undefined
      }).then(function (response) {
        if (!response.ok) {
          return responseError(response).then(function (error) {
            error.beforeAnswer = true;
            throw error;
          });
        }
        return read(response);
      }, function () {
        var error = new Error(say("network"));
        error.beforeAnswer = true;
        throw error;
      }).then(function () {
        if (mine !== view) {
          return undefined;
        }
        setBusy(null);
        if (!finished) {
          markFailed(answer, say("error") + say("interrupted"));
        } else if (failure) {
          markFailed(answer, say("error") + failure);
        } else {
          return finishAnswer(answer, mine).then(loadConversations);
        }
        return loadConversations();
      }).catch(function (error) {
        if (mine !== view) {
          return; // The person moved on (a new or another conversation).
        }
        setBusy(null);
        if (error && error.beforeAnswer) {
          // Nothing was answered: take the question back to the box, to send again.
          messages.removeChild(answer.item);
          messages.removeChild(asked.item);
          empty.hidden = !!messages.querySelector(".chat-message");
          if (!input.value) {
            input.value = question;
            fit();
          }
          showError(say("error") + (error.message || ""));
        } else {
          markFailed(answer, say("error") + ((error && error.message) || say("interrupted")));
        }
        loadConversations();
      });
    }

    // The box grows with its text, up to the stylesheet's max-height.
    function fit() {
      input.style.height = "auto";
      input.style.height = input.scrollHeight + 2 + "px";
    }

    function submit() {
      var question = input.value;
      if (busy || !question.trim()) {
        return;
      }
      input.value = "";
      fit();
      ask(question);
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      submit();
    });
    input.addEventListener("keydown", function (event) {
      // Enter sends; Shift+Enter is a new line; Enter that ends an IME composition is not a send.
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
        event.preventDefault();
        submit();
      }
    });
    input.addEventListener("input", fit);
    document.getElementById("new-conversation").addEventListener("click", function () {
      switchTo(null);
      loadConversations();
      input.focus();
    });

    var wanted = window.URLSearchParams &&
      new URLSearchParams(window.location.search).get("conversation");
    if (wanted && /^[0-9a-f-]{36}$/i.test(wanted)) {
      openConversation(wanted);
    }
    loadConversations();
    input.focus();
  }

  if (chat) {
    setUpChat(chat);
  }

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelectorAll("details.dropdown[open]");
      for (var i = 0; i < open.length; i++) {
        open[i].removeAttribute("open");
      }
    }
  });
})();
