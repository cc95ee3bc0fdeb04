// On a narrow screen the page is one column: the result comes below the inputs, the examples and the Advanced
// panel. Once a job has started (the result box shows Gradio's progress), the result and the status line under it
// are brought into view, once per job. Loaded through Gradio's `head` hook (see phone.py).
(() => {
  "use strict";
  const narrow = window.matchMedia("(max-width: 767px)");
  const still = window.matchMedia("(prefers-reduced-motion: reduce)");
  let waiting = false;

  const started = () => {
    const tracker = document.querySelector("#result [data-testid='status-tracker']");
    return tracker !== null && !tracker.classList.contains("hide");
  };

  const bringResult = () => {
    if (!waiting || !started()) return;
    waiting = false;
    document.querySelector("#result")?.scrollIntoView({ block: "start", behavior: still.matches ? "auto" : "smooth" });
  };

  document.addEventListener(
    "click",
    (event) => {
      if (narrow.matches && event.target.closest?.("#stylize")) waiting = true;
    },
    true,
  );
  new MutationObserver(bringResult).observe(document.documentElement, {
    subtree: true,
    attributes: true,
    attributeFilter: ["class"],
  });
})();
