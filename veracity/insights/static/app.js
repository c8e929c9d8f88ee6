"use strict";
// veracity insights front end: no build step, no dependencies; every server string is shown with textContent.
(function () {
  const params = new URLSearchParams(window.location.search);
  const token = params.get("token");
  const state = {config: null, selected: null, offset: 0};
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  async function api(path, body) {
    const headers = {"Accept": "application/json"};
    if (token) headers["X-Veracity-Token"] = token;
    const options = {headers: headers};
    if (body !== undefined) {
      options.method = "POST";
      headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || ("HTTP " + response.status));
    return data;
  }

  function status(text, isError) {
    const node = $("status");
    node.textContent = text || "";
    node.className = isError ? "error" : "hint";
  }

  function fmt(x) {
    if (x === null || x === undefined) return "n/a";
    const a = Math.abs(x);
    return (a !== 0 && (a < 1e-3 || a >= 1e4)) ? x.toExponential(2) : x.toPrecision(3);
  }

  // diverging red-white-green centred at 0 (signed), white-blue (unsigned)
  function colour(v, signed) {
    const t = Math.max(-1, Math.min(1, v));
    if (!signed) { const a = Math.abs(t); return [255 - 234 * a, 255 - 154 * a, 255 - 63 * a]; }
    if (t >= 0) return [255 - 209 * t, 255 - 130 * t, 255 - 205 * t];
    const a = -t; return [255 - 57 * a, 255 - 215 * a, 255 - 215 * a];
  }

  function drawPixels(canvas, pixels) {
    const h = pixels.length, w = pixels[0].length;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const p = pixels[i][j], k = 4 * (i * w + j);
      img.data[k] = 255 * p[0]; img.data[k + 1] = 255 * p[1]; img.data[k + 2] = 255 * p[2]; img.data[k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function drawMap(canvas, values, scale, signed) {
    const h = values.length, w = values[0].length;
    canvas.width = w; canvas.height = h;
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(w, h);
    const s = scale > 0 ? scale : 1;
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const c = colour(signed ? values[i][j] / s : Math.abs(values[i][j]) / s, signed), k = 4 * (i * w + j);
      img.data[k] = c[0]; img.data[k + 1] = c[1]; img.data[k + 2] = c[2]; img.data[k + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  function colorbar(scale, signed, label) {
    const box = el("div", {"class": "colorbar"});
    const canvas = el("canvas", {"class": "bar", "width": "128", "height": "1"});
    const ctx = canvas.getContext("2d");
    for (let x = 0; x < 128; x++) {
      const c = colour(signed ? 2 * x / 127 - 1 : x / 127, signed);
      ctx.fillStyle = "rgb(" + c.map(Math.round).join(",") + ")"; ctx.fillRect(x, 0, 1, 1);
    }
    box.appendChild(canvas);
    const ticks = el("div", {"class": "ticks"});
    (signed ? [-scale, 0, scale] : [0, scale / 2, scale]).forEach((v) => ticks.appendChild(el("span", {}, fmt(v))));
    box.appendChild(ticks);
    box.appendChild(el("div", {"class": "hint"}, label));
    return box;
  }

  function feature(f, withMap) {
    const box = el("div", {"class": "feature"});
    if (f.type === "image") {
      const canvas = el("canvas", {"class": "map"});
      if (withMap) drawMap(canvas, f.attribution, f.scale, f.signed); else drawPixels(canvas, f.pixels);
      box.appendChild(canvas);
      if (withMap) box.appendChild(colorbar(f.scale, f.signed, f.signed ? "attribution (red negative, green positive; saturates beyond the scale)" : "|attribution|"));
    } else if (f.type === "text") {
      const line = el("div", {"class": "tokens"});
      f.tokens.forEach((t, i) => {
        const span = el("span", {}, t);
        if (withMap) { const c = colour(f.attribution[i] / (f.scale || 1), true); span.style.background = "rgb(" + c.map(Math.round).join(",") + ")"; span.title = fmt(f.attribution[i]); }
        line.appendChild(span);
      });
      box.appendChild(line);
    } else {
      const bars = el("div", {"class": "bars"});
      (f.categories || []).forEach((name, i) => {
        const row = el("div"); row.appendChild(el("span", {"class": "name"}, name));
        const v = withMap ? f.attribution[i] : f.values[i]; row.appendChild(el("span", {}, fmt(v))); bars.appendChild(row);
      });
      box.appendChild(bars);
    }
    return box;
  }

  function thumbnail(example) {
    const button = el("button", {"type": "button", "class": "example", "data-id": String(example.id)});
    const image = example.features.find((f) => f.type === "image");
    if (image) { const c = el("canvas"); drawPixels(c, image.pixels); button.appendChild(c); }
    button.appendChild(el("div", {}, "#" + example.id));
    button.appendChild(el("div", {"class": "true-label"}, "true: " + example.label_name));
    button.appendChild(el("div", {"class": "predicted-label"}, "pred: " + example.predicted_name + " (" + fmt(example.score) + ")"));
    button.addEventListener("click", () => select(example, button));
    return button;
  }

  function select(example, button) {
    state.selected = example;
    document.querySelectorAll(".example.selected").forEach((b) => b.classList.remove("selected"));
    button.classList.add("selected");
    const box = $("selected");
    box.textContent = "";
    box.className = "";
    box.appendChild(el("div", {"id": "selected-text"}, "example #" + example.id + ": true class " + example.label_name + ", predicted " + example.predicted_name));
    example.features.forEach((f) => box.appendChild(feature(f, false)));
    $("attribute").disabled = false;
  }

  async function loadExamples(append) {
    if (!append) { state.offset = 0; $("examples").textContent = ""; }
    const q = new URLSearchParams({model: $("model").value || "0", offset: String(state.offset), limit: "24"});
    if ($("filter-true").value !== "") q.set("true", $("filter-true").value);
    if ($("filter-predicted").value !== "") q.set("predicted", $("filter-predicted").value);
    try {
      const data = await api("api/examples?" + q.toString());
      data.examples.forEach((e) => $("examples").appendChild(thumbnail(e)));
      state.offset += data.examples.length;
      $("count").textContent = data.total + " examples match; showing " + state.offset;
      $("more").disabled = state.offset >= data.total;
    } catch (e) { status(e.message, true); }
  }

  function methodControls(config) {
    const box = $("methods");
    config.methods.forEach((m, i) => {
      const div = el("div", {"class": "method"});
      const label = el("label");
      const check = el("input", {"type": "checkbox", "id": "method-" + m.name, "value": m.name});
      if (i === 0) check.checked = true;
      label.appendChild(check); label.appendChild(document.createTextNode(" " + m.name));
      div.appendChild(label);
      m.params.forEach((p) => {
        const l = el("label", {}, p.name + " ");
        const input = p.kind === "bool" ? el("input", {"type": "checkbox"}) :
          el("input", {"type": "number", "min": String(p.low), "max": String(p.high), "step": p.kind === "int" ? "1" : "any"});
        input.id = "arg-" + m.name + "-" + p.name;
        if (p.kind === "bool") input.checked = !!p.default; else input.value = String(p.default);
        l.appendChild(input); div.appendChild(l);
      });
      box.appendChild(div);
    });
  }

  function chosenMethods() {
    return state.config.methods.filter((m) => $("method-" + m.name).checked).map((m) => {
      const args = {};
      m.params.forEach((p) => {
        const input = $("arg-" + m.name + "-" + p.name);
        args[p.name] = p.kind === "bool" ? input.checked : Number(input.value);
      });
      return {name: m.name, args: args};
    });
  }

  function scoreTable(scores) {
    const table = el("table", {"class": "scores"});
    const head = el("tr");
    ["check", "value", "threshold", "verdict"].forEach((h) => head.appendChild(el("th", {}, h)));
    table.appendChild(head);
    scores.forEach((s) => {
      const row = el("tr");
      row.appendChild(el("td", {}, s.metric + " (" + s.category + ", " + s.better + " is better)"));
      row.appendChild(el("td", {}, fmt(s.value)));
      row.appendChild(el("td", {}, s.threshold === null ? "-" : (s.better === "lower" ? "< " : "> ") + s.threshold));
      row.appendChild(el("td", {"class": s.verdict || ""}, s.verdict || "descriptive"));
      table.appendChild(row);
    });
    return table;
  }

  async function attribute() {
    if (!state.selected) return;
    const methods = chosenMethods();
    if (!methods.length) { status("choose at least one method", true); return; }
    status("explaining example #" + state.selected.id + " ...");
    $("results").textContent = "";
    try {
      const data = await api("api/attribute", {example: state.selected.id, methods: methods, model: Number($("model").value || 0)});
      data.results.forEach((r) => {
        const card = el("div", {"class": "result", "data-method": r.method});
        card.appendChild(el("h3", {}, r.method));
        card.appendChild(el("div", {"class": "hint"}, "explains class " + data.target_name + "; " + Object.entries(r.args).map(([k, v]) => k + "=" + v).join(", ")));
        r.features.forEach((f) => card.appendChild(feature(f, true)));
        card.appendChild(scoreTable(r.scores));
        card.appendChild(el("div", {"class": "hint"}, "computed in " + fmt(r.seconds) + " s"));
        $("results").appendChild(card);
      });
      status("explained example #" + data.example + " for class " + data.target_name);
    } catch (e) { status(e.message, true); }
  }

  async function start() {
    try {
      state.config = await api("api/config");
    } catch (e) { status(e.message, true); return; }
    state.config.models.forEach((name, i) => $("model").appendChild(el("option", {"value": String(i)}, i + ": " + name)));
    state.config.classes.forEach((name, i) => {
      $("filter-true").appendChild(el("option", {"value": String(i)}, name));
      $("filter-predicted").appendChild(el("option", {"value": String(i)}, name));
    });
    methodControls(state.config);
    ["model", "filter-true", "filter-predicted"].forEach((id) => $(id).addEventListener("change", () => loadExamples(false)));
    $("more").addEventListener("click", () => loadExamples(true));
    $("attribute").addEventListener("click", attribute);
    await loadExamples(false);
  }

  document.addEventListener("DOMContentLoaded", start);
}());
