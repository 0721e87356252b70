// OpenMai console: confirmation before destructive forms, copy-to-clipboard, closing the
// account menu on an outside click, and knowledge-file uploads with live statuses. No inline
// scripts (the Content-Security-Policy forbids them).
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

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") {
      var open = document.querySelectorAll("details.dropdown[open]");
      for (var i = 0; i < open.length; i++) {
        open[i].removeAttribute("open");
      }
    }
  });
})();
