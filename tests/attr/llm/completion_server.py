"""A real OpenAI-compatible completion server on 127.0.0.1 (stdlib http.server) serving a tiny
Hugging Face model: ``/v1/models`` and ``/v1/completions`` with ``echo`` and ``logprobs``."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import torch


class CompletionServer:
    """``with CompletionServer(model, tokenizer) as server:`` serves at ``server.url``; it counts
    the completion requests and prompts it answered."""

    def __init__(self, model, tokenizer, name: str = "tiny-gpt2") -> None:
        self.model, self.tokenizer, self.name = model, tokenizer, name
        self.requests = 0
        self.prompts = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def _send(self, payload, status=200):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.path == "/v1/models":
                    self._send({"object": "list", "data": [{"id": owner.name, "object": "model"}]})
                else:
                    self._send({"error": "not found"}, 404)

            def do_POST(self):
                if self.path != "/v1/completions":
                    self._send({"error": "not found"}, 404)
                    return
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
                owner.requests += 1
                owner.prompts += len(prompts)
                choices = [owner.complete(i, p, body) for i, p in enumerate(prompts)]
                self._send({"object": "text_completion", "model": owner.name, "choices": choices})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def complete(self, index: int, prompt: str, body: dict) -> dict:
        encoded = self.tokenizer(prompt, return_offsets_mapping=True, add_special_tokens=False)
        ids, offsets = list(encoded["input_ids"]), [start for start, _ in encoded["offset_mapping"]]
        text, generated, generated_logprobs = "", [], []
        sequence = torch.tensor([ids])
        with torch.no_grad():
            logits = self.model(sequence).logits[0].log_softmax(-1)
            for _ in range(int(body.get("max_tokens", 16))):
                token = int(logits[-1].argmax())
                generated.append(token)
                generated_logprobs.append(float(logits[-1, token]))
                sequence = torch.cat([sequence, torch.tensor([[token]])], dim=1)
                logits = self.model(sequence).logits[0].log_softmax(-1)
        prompt_logprobs = [None] + [float(logits[i - 1, ids[i]]) for i in range(1, len(ids))]
        pieces = [" " + self.tokenizer.decode([t]) for t in generated]
        text = "".join(pieces)
        choice = {"index": index, "text": (prompt + text) if body.get("echo") else text, "finish_reason": "length"}
        if body.get("logprobs") is not None:
            gen_offsets, position = [], len(prompt)
            for piece in pieces:
                gen_offsets.append(position + 1)
                position += len(piece)
            tokens = self.tokenizer.convert_ids_to_tokens(ids + generated)
            choice["logprobs"] = {"tokens": tokens if body.get("echo") else tokens[len(ids):],
                                  "token_logprobs": (prompt_logprobs if body.get("echo") else []) + generated_logprobs,
                                  "text_offset": (offsets if body.get("echo") else []) + gen_offsets}
        return choice

    def __enter__(self) -> "CompletionServer":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
