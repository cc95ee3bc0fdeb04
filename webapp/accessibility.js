// Names, roles and alt text for what Gradio's components leave unnamed or misnamed, a polite live region that
// announces each phase of the status line, and the focus kept when the regions editor's layer menu closes. Loaded
// through Gradio's `head` hook (see accessibility.py); besides that focus, it changes attributes only, never what
// the page does. It runs again whenever the page changes, and sets an attribute only when its value differs, so
// that its own changes end there.
(() => {
  "use strict";
  const styleNames = JSON.parse(document.currentScript.dataset.styleNames || "{}");
  let announcer = null;
  let lastStatus;

  const text = (element) => (element ? element.textContent.replace(/\s+/g, " ").trim() : "");
  const set = (element, name, value) => {
    if (element.getAttribute(name) !== value) element.setAttribute(name, value);
  };
  const blockLabel = (element) => text(element.closest(".block")?.querySelector("[data-testid='block-label']"));
  const fileName = (src) => decodeURIComponent((src || "").split("?")[0].split("/").pop());

  // "Van Gogh, The Starry Night (1889)" for a gallery painting, else the uploaded file's name.
  const painting = (id) => {
    const shown = document.querySelector(`#${id} .image-frame img`);
    if (!shown) return null;
    const file = fileName(shown.getAttribute("src"));
    return styleNames[file] || `the image ${file}`;
  };
  const styleDescription = () => {
    const first = painting("style-image") || "the chosen painting";
    const second = painting("second-style-image");
    return second ? `${first} blended with ${second}` : first;
  };

  // Sets `name` on `element` from `describe()` each time the picture or video it shows is a new one.
  const describeOnce = (element, name, describe) => {
    const src = element.getAttribute("src") || "";
    if (element.dataset.describedSrc !== src) {
      element.dataset.describedSrc = src;
      set(element, name, describe());
    }
  };

  function nameResults() {
    const repainted = () => `the photo repainted in the style of ${styleDescription()}`;
    for (const img of document.querySelectorAll("#result .image-frame img")) {
      describeOnce(img, "alt", () => `The photo repainted in the style of ${styleDescription()}`);
    }
    const [before, after] = document.querySelectorAll("#before-after img[data-testid='imageslider-image']");
    if (before) describeOnce(before, "alt", () => "Before: the photo");
    if (after) describeOnce(after, "alt", () => `After: ${repainted()}`);
    for (const video of document.querySelectorAll("#progress-video video")) {
      describeOnce(video, "aria-label", () => `Progress video: ${repainted()}, preview by preview`);
    }
    // Every other picture is named by its box's label ("Content: your photo", "The regions over the photo").
    for (const img of document.querySelectorAll(".image-frame img[alt='']")) {
      if (!img.closest("#result")) set(img, "alt", blockLabel(img));
    }
  }

  function nameControls() {
    // The gallery's buttons by what they show (Gradio names them "Thumbnail 1 of 10"); the picture is then
    // decorative, since its caption says the same.
    for (const item of document.querySelectorAll("#style-gallery button.thumbnail-item")) {
      const caption = text(item.querySelector(".caption-label"));
      if (caption) set(item, "aria-label", caption);
      for (const img of item.querySelectorAll("img")) set(img, "alt", "");
    }
    // Upload areas: which image they take, then their visible prompt.
    for (const area of document.querySelectorAll("button.upload-container")) {
      const prompt = text(area);
      if (prompt) set(area, "aria-label", `${blockLabel(area)}: ${prompt}`);
    }
    // The regions editor's layer menu: its button names the layer it paints on ("Layers" while open); each layer
    // of the open list is named by its name (Gradio: "layer-1"), and so are its icon buttons: the eye, then
    // "move up" where there is a layer above, "move down" where there is one below.
    for (const layers of document.querySelectorAll("button.layer-title-button")) {
      const shown = text(layers);
      set(layers, "aria-label", shown.startsWith("Layers") ? shown : `Layers: ${shown}`);
    }
    for (const list of document.querySelectorAll(".layer-wrap ul")) {
      const items = [...list.children].filter((item) => item.tagName === "LI");
      items.forEach((item, index) => {
        const layer = item.querySelector(":scope > button:not(.icon-button)");
        if (!layer) return;
        const name = text(layer);
        set(layer, "aria-label", name);
        const eye = item.querySelector(":scope > button.icon-button");
        if (eye) set(eye, "aria-label", `Show or hide ${name}`);
        const moves = [...(index > 0 ? ["up"] : []), ...(index < items.length - 1 ? ["down"] : [])];
        item.querySelectorAll(":scope > div button.icon-button").forEach((button, at) => {
          if (moves[at]) set(button, "aria-label", `Move ${name} ${moves[at]}`);
        });
      });
    }
    // Empty result boxes carry a label ("Empty value"), which needs a role to be read.
    for (const empty of document.querySelectorAll(".empty[aria-label]:not([role])")) set(empty, "role", "img");
    // A download link wraps an icon button: two targets and two tab stops for one action, the button covering all
    // of the link but its border. The link alone stays, named by the button and its box.
    for (const link of document.querySelectorAll("a.download-link")) {
      const icon = link.querySelector(":scope > button.icon-button");
      if (!icon) continue;
      set(link, "aria-label", `${icon.getAttribute("aria-label") || "Download"}: ${blockLabel(link)}`);
      set(icon, "tabindex", "-1");
      set(icon, "aria-hidden", "true");
    }
    // Footer icons whose alt text repeats their button's text ("Settings").
    for (const img of document.querySelectorAll("footer button img[alt]")) {
      if (img.alt && text(img.closest("button")).includes(img.alt)) set(img, "alt", "");
    }
    for (const [from, to] of [
      ["play-pause-replay-button", "Play or pause"],
      ["full-screen", "Full screen"],
    ]) {
      for (const control of document.querySelectorAll(`[aria-label='${from}']`)) set(control, "aria-label", to);
    }
  }

  // "Painting… scale 2 of 3" once per scale, then "Done in …", "Stopped at …", "Waiting…": never each iteration.
  function announceStatus() {
    const line = text(document.querySelector("#status .prose p"));
    if (!line) return;
    const scale = line.match(/^Painting… scale (\d+)\/(\d+)/);
    const message = scale ? `Painting… scale ${scale[1]} of ${scale[2]}` : line;
    if (lastStatus === undefined) {
      lastStatus = message; // the page's first line is read with the page
    } else if (message !== lastStatus) {
      lastStatus = message;
      announcer.textContent = message;
    }
  }

  function mend() {
    if (!announcer && document.body) {
      announcer = document.createElement("div");
      announcer.id = "status-announcer";
      announcer.className = "sr-only";
      announcer.setAttribute("role", "status");
      announcer.setAttribute("aria-live", "polite");
      document.body.append(announcer);
    }
    nameControls();
    nameResults();
    if (announcer) announceStatus();
  }

  // Choosing a layer closes the layer menu and removes the focused button with it; the focus goes back to the
  // menu's button, rather than to the start of the page.
  document.addEventListener(
    "click",
    (event) => {
      const chosen = event.target.closest?.(".layer-wrap ul button:not(.icon-button)");
      if (!chosen) return;
      const menu = chosen.closest(".layer-wrap");
      setTimeout(() => {
        if (!chosen.isConnected) menu.querySelector("button.layer-title-button")?.focus();
      });
    },
    true,
  );

  new MutationObserver(mend).observe(document.documentElement, {
    subtree: true,
    childList: true,
    characterData: true,
    attributes: true,
    attributeFilter: ["src", "alt", "aria-label", "class"],
  });
  mend();
})();
