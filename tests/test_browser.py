"""The built book, opened page by page in a real browser: headless Chromium, driven by Playwright.

Every page of ``_build/html`` (``**/*.html`` but ``_static/``) is served on 127.0.0.1 and loaded once;
then, per page:

- equations are rendered: MathJax finished, every ``.math`` element holds MathJax output, no MathJax
  error, and no raw TeX (``$...$``, ``\\(``, ``\\[``, ``$$``, ``\\begin{``) nor an unrendered MyST role
  (``{glue:text}``, ``{cite}``, ...) is left in the page's text outside code;
- every image loads (``naturalWidth > 0``);
- every internal link with a fragment, bibliography citations included, points at an ``id`` that
  exists in its target page (the page's DOM after its scripts ran);
- the browser reports no JavaScript error: nothing logged at level error, no uncaught exception, no
  failed request and no HTTP error for the book's own files;
- a screenshot is saved to ``_build/screenshots/<page>.png`` (the first screenful; set
  ``MSLEARN_FULL_SCREENSHOTS=1`` for whole pages).

The book is the one tests/test_book.py builds: pytest runs test files in alphabetical order, so in
``make test`` (``pytest tests ...``) the build comes first. Run alone, this test checks whatever is
in ``_build/html`` (``MSLEARN_HTML`` points it elsewhere) and skips, saying why, when there is no built
book, no Playwright or no Chromium (Debian: ``apt-get install chromium``; ``MSLEARN_CHROMIUM`` names
another executable). It never builds the book itself: that takes the strict build's 20 minutes.
"""
from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import threading
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urljoin, urlparse

import pytest

from notebook_tools import ROOT

HTML = Path(os.environ.get("MSLEARN_HTML", ROOT / "_build" / "html")).resolve()
SCREENSHOTS = Path(os.environ.get("MSLEARN_SCREENSHOTS", HTML.parent / "screenshots"))
FULL_SCREENSHOTS = os.environ.get("MSLEARN_FULL_SCREENSHOTS", "") not in ("", "0")
# Chromium in a machine without a network or a display: no sandbox (CI runs as root), no GPU, and none
# of the background connections (updates, sync, ...) that would fail and be retried
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
PAGE_TIMEOUT_MS = 120_000

# raw TeX in a page's text: inline or display delimiters that MathJax did not consume
RAW_TEX = re.compile(r"\\\(|\\\)|\\\[|\\\]|\$\$|\\begin\{|(?<![\w$\\])\$(?=[^\s$])[^$\n]{1,200}?(?<=[^\s\\])\$(?![\w$])")
# a MyST role or directive that was not parsed, e.g. a glue role with its backtick missing
REDIRECT = re.compile(r"""http-equiv=["']refresh["'][^>]*content=["'][^;"']*;\s*url=([^"']+)""", re.I)
RAW_MYST = re.compile(r"\{(?:glue|cite|doc|ref|numref|eq|math|term|download|py:\w+)(?::[\w-]+)?\}")

COLLECT = """async () => {
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const images = [...document.images];
  for (const image of images) { image.loading = "eager"; }
  await Promise.all(images.map(image => image.decode().catch(() => null)));
  const text = document.body.cloneNode(true);
  text.querySelectorAll("pre, code, script, style, textarea, mjx-container, .highlight, .math, [role=search]")
      .forEach(e => e.remove());
  const mathElements = [...document.querySelectorAll(".math")];
  return {
    mathjax: !!(window.MathJax && MathJax.startup),
    math: mathElements.length,
    unrendered: mathElements.filter(e => !e.querySelector("mjx-container")).map(e => e.textContent.trim().slice(0, 80)),
    mathErrors: [...document.querySelectorAll("mjx-merror")].map(e => (e.getAttribute("data-mjx-error") || e.textContent).slice(0, 120)),
    text: text.textContent,
    images: images.map(i => ({src: i.currentSrc || i.src, ok: i.complete && i.naturalWidth > 0})),
    ids: [...document.querySelectorAll("[id]")].map(e => e.id)
          .concat([...document.querySelectorAll("a[name]")].map(e => e.getAttribute("name"))),
    links: [...document.querySelectorAll("a[href]")].map(a => ({
      href: a.href, text: a.textContent.trim().slice(0, 60),
      citation: !!a.closest(".cite, span.citation, .bibtex") || /bibliography\\.html#/.test(a.getAttribute("href"))})),
  };
}"""


def chromium_executable():
    """Chromium or Chrome on this machine (``MSLEARN_CHROMIUM`` first), or None."""
    candidates = [os.environ.get("MSLEARN_CHROMIUM"), "chromium", "chromium-browser", "google-chrome",
                  "google-chrome-stable"]
    for candidate in filter(None, candidates):
        found = shutil.which(candidate) or (candidate if Path(candidate).is_file() else None)
        if found:
            return found
    return None


def page_files(html=HTML):
    return sorted(p for p in html.rglob("*.html") if p.relative_to(html).parts[0] not in ("_static", "_sources"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    if not (HTML / "index.html").exists():
        pytest.skip(f"no built book in {HTML}: run `make book` (or tests/test_book.py, which builds it)")
    handler = functools.partial(_QuietHandler, directory=str(HTML))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed: pip install -e '.[test]'")
    executable = chromium_executable()
    with sync_api.sync_playwright() as playwright:
        try:
            launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        except sync_api.Error as error:
            if executable:
                raise
            pytest.skip(f"no Chromium to test the book in (Debian: apt-get install chromium): {str(error)[:300]}")
        yield launched
        launched.close()


def _visit(context, base, path):
    """Load one page, wait for MathJax and the images, and report what the checks need."""
    problems = {"console": [], "page errors": [], "requests": []}
    # Chromium asks every server for /favicon.ico on its own (no page links one): not the book's request
    favicon = base + "favicon.ico"

    def on_console(message):
        if message.type == "error" and message.location.get("url") != favicon:
            location = f"{message.location.get('url', '')}:{message.location.get('lineNumber', '')}"
            problems["console"].append(f"{message.text[:300]} ({location})")

    page = context.new_page()
    page.on("console", on_console)
    page.on("pageerror", lambda e: problems["page errors"].append(str(e)[:300]))
    page.on("requestfailed", lambda r: r.url != favicon and problems["requests"].append(f"{r.url}: {r.failure}"))
    page.on("response", lambda r: r.status >= 400 and r.url != favicon and problems["requests"].append(f"{r.url}: HTTP {r.status}"))
    url = base + path.relative_to(HTML).as_posix()
    start = time.perf_counter()
    page.goto(url, wait_until="load", timeout=PAGE_TIMEOUT_MS)
    redirect = REDIRECT.search(path.read_text(errors="replace")[:2000])
    if redirect:  # index.html sends the reader on to the first chapter: check that page
        page.wait_for_url(urljoin(url, redirect[1]), wait_until="load", timeout=PAGE_TIMEOUT_MS)
    for attempt in range(3):
        try:
            report = page.evaluate(COLLECT)
            break
        except Exception as error:  # a redirect (index.html) replaced the page: check where it led
            if "context was destroyed" not in str(error) or attempt == 2:
                raise
            page.wait_for_load_state("load", timeout=PAGE_TIMEOUT_MS)
    shot = SCREENSHOTS / path.relative_to(HTML).with_suffix(".png")
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot), full_page=FULL_SCREENSHOTS, timeout=PAGE_TIMEOUT_MS)
    final_url = page.url
    page.close()
    report.update(problems, url=url, final_url=final_url, screenshot=shot, seconds=time.perf_counter() - start)
    return report


@pytest.fixture(scope="module")
def pages(server, browser):
    """Every built page, visited once: {path relative to the build: report}."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    reports = {}
    for path in page_files():
        reports[path.relative_to(HTML).as_posix()] = _visit(context, server, path)
    context.close()
    return reports


def _fail_if(problems, what):
    if problems:
        shown = "\n".join(f"  {page}: {problem}" for page, problem in problems[:60])
        more = f"\n  ... and {len(problems) - 60} more" if len(problems) > 60 else ""
        pytest.fail(f"{len(problems)} {what}:\n{shown}{more}")


@pytest.mark.slow
def test_every_page_was_opened(pages):
    assert len(pages) == len(page_files())
    assert "index.html" in pages and any(p.startswith("book/part") for p in pages), sorted(pages)


@pytest.mark.slow
def test_equations_are_rendered(pages):
    problems = []
    for name, report in pages.items():
        if report["math"] and not report["mathjax"]:
            problems.append((name, f"{report['math']} equations but MathJax did not load"))
        problems += [(name, f"equation not typeset: {text!r}") for text in report["unrendered"]]
        problems += [(name, f"MathJax error: {text!r}") for text in report["mathErrors"]]
        text = " ".join(report["text"].split())
        for pattern, what in ((RAW_TEX, "raw TeX"), (RAW_MYST, "unparsed MyST role")):
            for match in pattern.finditer(text):
                context = text[max(0, match.start() - 50):match.end() + 50]
                problems.append((name, f"{what} {match.group(0)!r} in the text: ...{context}..."))
    assert sum(r["math"] for r in pages.values()) > 0, "no equation found in the whole book"
    _fail_if(problems, "equations or roles not rendered")


@pytest.mark.slow
def test_images_load(pages):
    problems = [(name, f"image does not load: {image['src']}")
                for name, report in pages.items() for image in report["images"] if not image["ok"]]
    assert any(report["images"] for report in pages.values()), "no image in the whole book"
    _fail_if(problems, "images not loaded")


def _ids_of(target, pages):
    if target in pages:
        return set(pages[target]["ids"])
    path = HTML / target
    text = path.read_text(errors="replace") if path.is_file() else ""
    return set(re.findall(r"""\b(?:id|name)=["']([^"']+)["']""", text))


@pytest.mark.slow
def test_links_and_citations_resolve(pages, server):
    problems, citations = [], 0
    for name, report in pages.items():
        for link in report["links"]:
            url, fragment = urldefrag(link["href"])
            if not url.startswith(server) or not fragment:
                continue
            target = unquote(urlparse(url).path.lstrip("/")) or "index.html"
            citations += link["citation"]
            if unquote(fragment) not in _ids_of(target, pages):
                kind = "citation" if link["citation"] else "link"
                problems.append((name, f"{kind} {link['text']!r} -> {target}#{fragment}: no such anchor"))
    assert citations, "no citation links found: is the bibliography built?"
    _fail_if(problems, "links to missing anchors")


@pytest.mark.slow
def test_no_javascript_errors(pages):
    problems = [(name, f"{kind}: {message}") for name, report in pages.items()
                for kind in ("console", "page errors", "requests") for message in report[kind]]
    _fail_if(problems, "browser errors")


@pytest.mark.slow
def test_a_screenshot_per_page(pages):
    missing = [(name, str(r["screenshot"])) for name, r in pages.items()
               if not (r["screenshot"].is_file() and r["screenshot"].stat().st_size > 1000)]
    _fail_if(missing, "screenshots missing")
