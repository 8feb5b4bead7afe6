// The scope selector (ask and search pages): the collection boxes show only while
// "Several collections" is chosen. enclaveScope() gives the scope of an API request:
// {collection}, {collections: [...]}, or {} for every collection you can read.
"use strict";

(function () {
  const select = document.getElementById("collection");
  const several = document.getElementById("scope-several");
  if (!select) return;

  function ticked() {
    return several
      ? Array.from(several.querySelectorAll("input[name=collections]:checked")).map((b) => b.value)
      : [];
  }

  function sync() {
    if (several) several.hidden = select.value !== "+";
  }
  select.addEventListener("change", () => {
    sync();
    if (select.value === "+" && several) {
      const first = several.querySelector("input[name=collections]");
      if (first) first.focus();
    }
  });
  sync();

  window.enclaveScope = function () {
    if (select.value === "*") return {};
    if (select.value === "+") {
      const names = ticked();
      return names.length ? { collections: names } : {};
    }
    return select.value ? { collection: select.value } : {};
  };
  // Show a stored scope label ("a", "a,b" or "*") in the selector.
  window.enclaveSetScope = function (label) {
    const names = label && label !== "*" ? label.split(",") : [];
    const known = Array.from(select.options).map((o) => o.value);
    if (!names.length) select.value = "*";
    else if (names.length === 1 && known.includes(names[0])) select.value = names[0];
    else if (several && known.includes("+")) {
      select.value = "+";
      for (const box of several.querySelectorAll("input[name=collections]")) {
        box.checked = names.includes(box.value);
      }
    }
    sync();
  };
  // A text key for "is this the same scope?" (a conversation keeps the scope it began with).
  window.enclaveScopeKey = function () {
    const scope = window.enclaveScope();
    if (scope.collection) return scope.collection;
    if (scope.collections) return scope.collections.slice().sort().join(",");
    return "*";
  };
})();
