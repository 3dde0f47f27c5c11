// MathJax 3 configuration for pymdownx.arithmatex (generic mode): typesets \( \) and \[ \] spans.
// Without network access the equations show as their LaTeX source, which stays readable.
window.MathJax = {
  tex: { inlineMath: [["\\(", "\\)"]], displayMath: [["\\[", "\\]"]], processEscapes: true, processEnvironments: true },
  options: { ignoreHtmlClass: ".*|", processHtmlClass: "arithmatex" },
};
