"""The progress display of MLP.fit: a bar in Jupyter, a line in a terminal.

``fit(progress=True)`` shows one; ``progress=None`` (the default) shows one
only in a Jupyter kernel, and only once the fit has lasted a second (quick
fits print nothing); ``progress=False`` never does. In Jupyter the bar is an
HTML ``<progress>`` element (with a text form for front ends without HTML)
updated in place through ``IPython.display``; ipywidgets is not needed.
Elsewhere it is a line on stderr, rewritten with ``\\r`` on a terminal.

The display is updated between the C trainer's runs of epochs, at most every
``interval`` seconds: it costs one time check per run.
"""
import html
import sys
import time


def _jupyter_shell():
    """The IPython kernel's shell when running in Jupyter, else None (no import of IPython)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # an IPython too old or half imported: no display
        return None
    return shell if getattr(shell, "kernel", None) is not None else None


def progress_wanted(progress):
    """(kind, delay) of the display fit should show, or None: kind "html" or "text"."""
    if progress is False:
        return None
    jupyter = _jupyter_shell() is not None
    if progress is None:
        return ("html", 1.0) if jupyter else None
    return ("html" if jupyter else "text", 0.0)


def _number(value):
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"


class Progress:
    """progress = Progress(epochs, ("text", 0.0)); progress.update(done, logs); progress.close()."""

    interval = 0.25  # seconds between two updates (and the length of fit's runs of epochs)

    def __init__(self, total, display, stream=None):
        self.total = total
        self.kind, self.delay = display
        self.stream = sys.stderr if stream is None else stream
        self.start = time.perf_counter()
        self.last = -float("inf")
        self.done, self.logs = 0, {}
        self.handle = None
        self.shown = False
        # a file or a pipe gets a line every few seconds, not a stream of them
        self.every = self.interval if self.kind == "html" or _isatty(self.stream) \
            else 20 * self.interval

    def text(self, interrupted=False, bar=True):
        width = 20
        filled = int(width * self.done / self.total)
        parts = [f"epoch {self.done}/{self.total}"]
        if bar:
            parts.append(f"[{'#' * filled}{'.' * (width - filled)}]")
        parts += [f"{name} {_number(value)}" for name, value in self.logs.items()]
        parts.append(f"{time.perf_counter() - self.start:.1f} s")
        return " ".join(parts) + (" (interrupted)" if interrupted else "")

    def update(self, done, logs, force=False):
        self.done, self.logs = done, logs
        now = time.perf_counter()
        if not force and (now - self.last < self.every or now - self.start < self.delay):
            return
        self.last = now
        self._show()

    def close(self, interrupted=False):
        if self.shown or time.perf_counter() - self.start >= self.delay:
            self._show(interrupted, final=True)

    def _show(self, interrupted=False, final=False):
        if self.kind == "html":
            try:
                self._show_html(self.text(interrupted, bar=False))
                self.shown = True
                return
            except Exception:  # no usable IPython.display: fall back to text
                self.kind = "text"
        tty = _isatty(self.stream)
        end = "\n" if final or not tty else ""
        self.stream.write(("\r" if tty else "") + self.text(interrupted) + end)
        self.stream.flush()
        self.shown = True

    def _show_html(self, line):
        from IPython.display import display

        bar = _Bar(self.done, self.total, line)
        if self.handle is None:
            self.handle = display(bar, display_id=True)
        else:
            self.handle.update(bar)


def _isatty(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class _Bar:
    """What IPython.display shows: an HTML bar, or the text line."""

    def __init__(self, done, total, line):
        self.done, self.total, self.line = done, total, line

    def _repr_html_(self):
        return (f'<progress value="{self.done}" max="{self.total}" style="width: 20em">'
                f'</progress> <code>{html.escape(self.line)}</code>')

    def __repr__(self):
        return self.line
