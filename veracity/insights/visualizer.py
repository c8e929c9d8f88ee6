"""``AttributionVisualizer``: Captum Insights' entry point, served by veracity's own app."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Callable, Iterable, Sequence

from torch import Tensor

from veracity.insights.explorer import Explorer
from veracity.insights.features import BaseFeature
from veracity.insights.server import build_app, check_bind


class AttributionVisualizer:
    """Explore attributions in a browser: pick examples (filter by true and predicted class),
    choose methods and their arguments, see the maps side by side with the trust report's
    checks computed on that example.

    ``models``: one model or a list; ``classes``: class names; ``features``: one
    :class:`~veracity.insights.ImageFeature` / ``TextFeature`` / ``GeneralFeature`` per model
    input; ``dataset``: an iterable of :class:`~veracity.insights.Batch` (the first
    ``max_examples`` examples are kept); ``score_func``: applied to the outputs to show a
    score (e.g. softmax); ``use_label_for_attr``: explain the true label (True, Captum's
    default) or the predicted class, unless the request names a target. Needs the ``app``
    extra (Starlette, uvicorn) to serve.

    Example:
        >>> import torch
        >>> from veracity.insights import Batch, ImageFeature
        >>> viz = AttributionVisualizer(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2)),
        ...                             ["no", "yes"], [ImageFeature("image")],
        ...                             [Batch(torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 1]))])
        >>> viz.explorer.examples()["total"]
        3
    """

    def __init__(self, models: Any, classes: Sequence[str], features: Any, dataset: Iterable[Any],
                 score_func: Callable[[Tensor], Tensor] | None = None, use_label_for_attr: bool = True,
                 max_examples: int = 500) -> None:
        model_list = list(models) if isinstance(models, (list, tuple)) else [models]
        feature_list = list(features) if isinstance(features, (list, tuple)) else [features]
        if not model_list:
            raise ValueError("`models`: expected a model or a non-empty list of models")
        if not feature_list or not all(isinstance(f, BaseFeature) for f in feature_list):
            raise TypeError("`features`: expected ImageFeature, TextFeature or GeneralFeature objects")
        if isinstance(classes, str) or not all(isinstance(c, str) for c in classes):
            raise TypeError("`classes`: expected a list of class names (strings)")
        self.use_label_for_attr = use_label_for_attr
        self.explorer = Explorer(model_list, classes, feature_list, dataset, score_func, max_examples,
                                 use_label_for_attr)
        self.url: str | None = None
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def app(self, token: str | None = None, max_body: int = 65536, host: str = "127.0.0.1") -> Any:
        """The ASGI application (for your own server, or Starlette's test client)."""
        check_bind(host, token)
        return build_app(self.explorer, token, max_body, host)

    def serve(self, port: int | None = None, host: str = "127.0.0.1", token: str | None = None,
              blocking: bool = True, max_body: int = 65536) -> str:
        """Serve on ``host:port`` (``port`` None: a free one); return the address to open.

        ``blocking=False`` serves from a background thread (stop it with :meth:`stop`).
        Binding anything but 127.0.0.1/localhost/::1 needs a ``token`` of 8+ characters.
        """
        check_bind(host, token)
        try:
            import uvicorn
        except ImportError as error:  # pragma: no cover - depends on the environment
            raise ImportError("the Insights app needs the app extra: pip install 'veracity[app]'") from error
        if port is None or port == 0:
            with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
                probe.bind((host, 0))
                port = int(probe.getsockname()[1])
        config = uvicorn.Config(self.app(token, max_body, host), host=host, port=port, log_level="warning",
                                access_log=False, limit_concurrency=32, timeout_keep_alive=5)
        self._server = uvicorn.Server(config)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
        if blocking:
            self._server.run()
            return self.url
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started and time.monotonic() < deadline and self._thread.is_alive():
            time.sleep(0.02)
        if not self._server.started:
            raise RuntimeError(f"the app did not start on {host}:{port}")
        return self.url

    def render(self, port: int | None = None, height: int = 720) -> Any:
        """For notebooks: serve in the background and show the app in an iframe (the address
        is returned when IPython is not there)."""
        url = self.url if self._server is not None and self._server.started else self.serve(port, blocking=False)
        try:
            from IPython.display import IFrame  # type: ignore[import-not-found,unused-ignore]
        except ImportError:
            return url
        return IFrame(url, width="100%", height=height)

    def stop(self) -> None:
        """Stop a server started with ``blocking=False`` (or by :meth:`render`)."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None
