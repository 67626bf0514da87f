// The chapters' explorers, live in the page: controls, a Vega-Lite chart and the summary line.
// The numbers come from the data the book's build put in the page (book/_ext/live_explorers.py,
// rooflib/explore/live.py): every point of the grid was drawn by the explorer itself. This
// script only looks them up and plots them; it computes nothing.
(function () {
  "use strict";

  async function decode(el) {
    const bytes = Uint8Array.from(atob(el.textContent.trim()), c => c.charCodeAt(0));
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
    return JSON.parse(await new Response(stream).text());
  }

  const LN10 = Math.LN10;
  const powerLabel = "abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) > 0.01 ? '' : " +
    "(datum.value >= 0.01 && datum.value < 1e4 ? format(datum.value, '~g') : '1e' + round(log(datum.value) / LN10))";

  function decades(lo, hi) {
    const out = [];
    for (let e = Math.ceil(Math.log10(lo) - 1e-9); e <= Math.floor(Math.log10(hi) + 1e-9); e++) out.push(Math.pow(10, e));
    return out;
  }

  function keyOf(artist, i) { return artist.label || "_" + i; }

  class LiveExplorer {
    constructor(data, cell, index) {
      this.data = data;
      this.cell = cell;
      this.index = index;
      this.state = data.controls.map(c => c.init);
      this.updates = 0;
      this.lastMs = null;
      this.pool = null;
      this.build();
    }

    row() {
      let i = 0;
      this.data.controls.forEach((c, k) => { i = i * c.values.length + this.state[k]; });
      return this.data.points[i];
    }

    build() {
      const d = this.data;
      const root = this.root = document.createElement("div");
      root.className = "rooflib-live";
      root.setAttribute("role", "group");
      root.setAttribute("aria-label", "Live explorer");
      const controls = document.createElement("div");
      controls.className = "rooflib-live-controls";
      this.inputs = d.controls.map((c, k) => {
        const label = document.createElement("label");
        const name = document.createElement("span");
        name.className = "rooflib-live-label";
        name.textContent = c.label;
        label.appendChild(name);
        let input;
        if (c.values.length === 1) {  // held at one value in the page (the explorer's live_grid)
          const fixed = document.createElement("output");
          fixed.className = "rooflib-live-fixed";
          fixed.textContent = c.labels[0];
          fixed.title = "fixed in the book's page; every value in the notebook";
          label.appendChild(fixed);
          controls.appendChild(label);
          return null;
        }
        if (c.kind === "select") {
          input = document.createElement("select");
          c.labels.forEach((text, j) => {
            const opt = document.createElement("option");
            opt.value = String(j);
            opt.textContent = text;
            input.appendChild(opt);
          });
          input.value = String(c.init);
          label.appendChild(input);
        } else {
          input = document.createElement("input");
          input.type = "range";
          input.min = "0";
          input.max = String(c.values.length - 1);
          input.step = "1";
          input.value = String(c.init);
          const out = document.createElement("output");
          out.textContent = c.labels[c.init];
          input.setAttribute("aria-valuetext", c.labels[c.init]);
          input.addEventListener("input", () => {
            out.textContent = c.labels[+input.value];
            input.setAttribute("aria-valuetext", out.textContent);
          });
          label.appendChild(input);
          label.appendChild(out);
        }
        input.dataset.control = c.name;
        input.addEventListener(c.kind === "select" ? "change" : "input", () => {
          this.state[k] = +input.value;
          this.update();
        });
        controls.appendChild(label);
        return input;
      });
      this.chart = document.createElement("div");
      this.chart.className = "rooflib-live-chart";
      this.summary = document.createElement("div");
      this.summary.className = "rooflib-live-summary";
      this.summary.setAttribute("aria-live", "polite");
      const note = document.createElement("p");
      note.className = "rooflib-live-note";
      note.textContent = "Live in the page: every setting offered here was computed by rooflib when the book " +
        "was built. Run the notebook for every chip, model and value.";
      root.append(controls, this.chart, this.summary, note);
    }

    // Rows for every dataset of the chart at the current point.
    datasets(row) {
      const d = this.data, pool = this.pool, sets = {};
      d.axes.forEach((_, a) => { ["l", "p", "q", "v", "h", "s", "r"].forEach(t => { sets[t + a] = []; }); });
      d.artists.forEach((art, i) => { if (art.kind === "text") sets["t" + i] = []; });
      let k = 1 + d.axes.length;
      d.artists.forEach((art, i) => {
        const key = keyOf(art, i), w = art.width || 1, al = art.alpha == null ? 1 : art.alpha;
        if (art.kind === "line") {
          const xs = pool[row[k]], ys = pool[row[k + 1]];
          k += 2;
          if (!xs) return;
          // A line with markers: its points (filled "p" or hollow "q"), and the line only if it has one.
          const marks = art.marker ? (art.filled ? "p" : "q") + art.ax : null;
          for (let j = 0; j < xs.length; j++) {
            const r = {key: key, s: i, o: j, x: xs[j], y: ys[j], w: w, a: al};
            if (!marks || art.line) sets["l" + art.ax].push(r);
            if (marks && xs[j] != null && ys[j] != null) sets[marks].push(r);
          }
          return;
        }
        if (art.kind === "text") {
          const at = pool[row[k]], words = row[k + 1] >= 0 ? d.texts[row[k + 1]] : null;
          k += 2;
          if (at && at.length && words) sets["t" + i].push({key: key, x: at[0], y: at[1], text: words});
          return;
        }
        let g = pool[row[k]];
        k += 1;
        if (!g || !g.length) return;
        // A bar from 0 on a log axis (matplotlib clips it at the axis) starts at the axis' lower limit.
        const ax = d.axes[art.ax], lim = pool[row[1 + art.ax]];
        if (lim && (art.kind === "rect" || art.kind === "span" || art.kind === "boxes")) {
          g = g.map((v, j) => (j % 4 < 2 ? ax.xscale : ax.yscale) === "log" && v <= 0 ? lim[j % 4 < 2 ? 0 : 2] : v);
        }
        if (art.kind === "vline") sets["v" + art.ax].push({key: key, x: g[0], w: w, a: al});
        else if (art.kind === "hline") sets["h" + art.ax].push({key: key, y: g[2], w: w, a: al});
        else if (art.kind === "span") sets["s" + art.ax].push({key: key, x: g[0], x2: g[1], a: al});
        else if (art.kind === "rect") sets["r" + art.ax].push({key: key, s: i, x: g[0], x2: g[1], y: g[2], y2: g[3], a: al});
        else if (art.kind === "boxes") {  // [x0, x1, y0, y1] per box
          for (let b = 0; b + 3 < g.length; b += 4) sets["r" + art.ax].push({key: key, s: i, x: g[b], x2: g[b + 1], y: g[b + 2], y2: g[b + 3], a: al});
        }
      });
      return sets;
    }

    spec(row) {
      const d = this.data, pool = this.pool;
      // Room for each panel's axis titles and labels beside it (about 110 px).
      const width = Math.max(200, Math.min(340, ((this.root.clientWidth || 700) - 110 * d.axes.length) / d.axes.length));
      const charts = d.axes.map((ax, a) => {
        const lim = pool[row[1 + a]] || [0, 1, 0, 1];
        const mine = d.artists.map((art, i) => [art, i]).filter(([art]) => art.ax === a);
        const keys = [], colors = [], dashes = [], shapes = [];
        mine.filter(([art]) => art.kind !== "text").forEach(([art, i]) => {
          keys.push(keyOf(art, i));
          colors.push(art.color);
          dashes.push(art.dash && art.dash.length ? art.dash : [1, 0]);
          shapes.push(art.marker || "circle");
        });
        const labelled = mine.filter(([art]) => art.label).map(([art, i]) => keyOf(art, i));
        const legend = ax.legend && labelled.length ?
          {values: labelled, orient: "bottom", title: null, labelLimit: 220, symbolType: "stroke",
           columns: labelled.some(k => k.length > 28) ? 1 : 2} : null;
        const color = {field: "key", type: "nominal", scale: {domain: keys, range: colors}, legend: legend};
        const dash = {field: "key", type: "nominal", scale: {domain: keys, range: dashes}, legend: legend};
        // Each row carries its artist's line width and opacity, used as they are (scale: null).
        const sw = {field: "w", type: "quantitative", scale: null, legend: null};
        const op = {field: "a", type: "quantitative", scale: null, legend: null};
        const scale = (type, lo, hi) => ({type: type === "log" ? "log" : "linear", domain: [lo, hi], nice: false, zero: false});
        const xaxis = {title: ax.xlabel, grid: true, gridOpacity: 0.3};
        const yaxis = {title: ax.ylabel, grid: ax.yticks == null, gridOpacity: 0.3};
        if (ax.xscale === "log") Object.assign(xaxis, {values: decades(lim[0], lim[1]), labelExpr: powerLabel});
        if (ax.yscale === "log") Object.assign(yaxis, {values: decades(lim[2], lim[3]), labelExpr: powerLabel});
        // Ticks named with words (bars by name): the same values, the same words.
        const named = (axis, ticks) => {
          axis.values = ticks.map(t => t[0]);
          axis.labelExpr = ticks.map(t => `datum.value == ${t[0]} ? ${JSON.stringify(t[1])} : `).join("") + "''";
          axis.labelLimit = 160;
        };
        if (ax.yticks) named(yaxis, ax.yticks);
        if (ax.xticks) { named(xaxis, ax.xticks); xaxis.grid = false; }
        const x = {field: "x", type: "quantitative", scale: scale(ax.xscale, lim[0], lim[1]), axis: xaxis};
        const y = {field: "y", type: "quantitative", scale: scale(ax.yscale, lim[2], lim[3]), axis: yaxis};
        const layers = [
          {data: {name: "s" + a}, mark: {type: "rect", clip: true},
           encoding: {x: x, x2: {field: "x2"}, color: color, opacity: op}},
          {data: {name: "r" + a}, mark: {type: "rect", clip: true},
           encoding: {x: x, x2: {field: "x2"}, y: y, y2: {field: "y2"}, color: color, opacity: op}},
          {data: {name: "l" + a}, mark: {type: "line", clip: true, interpolate: "linear"},
           encoding: {x: x, y: y, color: color, strokeDash: dash, strokeWidth: sw, opacity: op,
                      detail: {field: "s"}, order: {field: "o"}}},
          {data: {name: "v" + a}, mark: {type: "rule", clip: true},
           encoding: {x: x, color: color, strokeDash: dash, strokeWidth: sw, opacity: op}},
          {data: {name: "h" + a}, mark: {type: "rule", clip: true},
           encoding: {y: y, color: color, strokeDash: dash, strokeWidth: sw, opacity: op}},
        ];
        // Markers: matplotlib's size is a diameter in points, Vega-Lite's an area in pixels.
        const shape = {field: "key", type: "nominal", scale: {domain: keys, range: shapes}, legend: null};
        const marker = mine.find(([art]) => art.marker);
        const area = marker ? Math.pow(1.2 * (marker[0].size || 6), 2) : 40;
        layers.push(
          {data: {name: "p" + a}, mark: {type: "point", filled: true, clip: true, size: area},
           encoding: {x: x, y: y, color: color, shape: shape, opacity: op}},
          {data: {name: "q" + a}, mark: {type: "point", filled: false, clip: true, size: area, strokeWidth: 1.2},
           encoding: {x: x, y: y, color: color, shape: shape, opacity: op}});
        // Each text of the figure in its own layer: its alignment and angle are the mark's.
        const BASELINE = {top: "top", bottom: "bottom", center: "middle", center_baseline: "middle", baseline: "alphabetic"};
        mine.filter(([art]) => art.kind === "text").forEach(([art, i]) => {
          layers.push({data: {name: "t" + i},
                       mark: {type: "text", clip: true, color: art.color, fontSize: 1.1 * (art.size || 8),
                              align: art.align === "center" ? "center" : art.align === "right" ? "right" : "left",
                              baseline: BASELINE[art.baseline] || "middle", angle: (360 - (art.angle || 0)) % 360},
                       encoding: {x: x, y: y, text: {field: "text", type: "nominal"}}});
        });
        return {width: width, height: Math.round(width * 0.75), layer: layers,
                resolve: {scale: {color: "shared", strokeDash: "shared"}},
                title: ax.title || null};
      });
      return {
        $schema: "https://vega.github.io/schema/vega-lite/v6.json",
        description: "Live explorer: " + d.axes.map(ax => `${ax.ylabel} against ${ax.xlabel}`).join("; "),
        hconcat: charts, resolve: {scale: {color: "independent", strokeDash: "independent", x: "independent", y: "independent",
                                            strokeWidth: "independent", opacity: "independent"},
                                    legend: {color: "independent", strokeDash: "independent"}},
        config: {font: "sans-serif", axis: {labelFontSize: 11, titleFontSize: 11}, legend: {labelFontSize: 10},
                 view: {stroke: "#888"}, line: {strokeCap: "butt"}},
        autosize: {type: "pad"},
      };
    }

    async render(row) {
      // The axes' limits are part of the chart's specification: a new set (rare) builds a new view.
      const limits = this.data.axes.map((_, a) => row[1 + a]).join(",");
      if (!this.view || limits !== this.limits) {
        if (this.view) this.view.finalize();
        const vgSpec = vegaLite.compile(this.spec(row)).spec;
        this.view = new vega.View(vega.parse(vgSpec), {renderer: "svg", container: this.chart, hover: false});
        this.limits = limits;
      }
      const sets = this.datasets(row);
      for (const name in sets) this.view.data(name, sets[name]);
      await this.view.runAsync();
      this.shown = sets;
    }

    async update() {
      const t0 = performance.now();
      const row = this.row();
      this.summary.innerHTML = this.data.texts[row[0]];
      if (row[1] >= 0) await this.render(row);  // -1: an impossible setting: the message says so, the plot stays
      this.lastMs = performance.now() - t0;
      this.updates += 1;
      this.root.dataset.updates = String(this.updates);
      this.root.dataset.lastMs = this.lastMs.toFixed(2);
    }

    async start() {
      this.pool = this.data.pool;
      const output = this.cell.querySelector(".cell_output");
      (output || this.cell).before(this.root);
      await this.update();
      if (output) output.hidden = true;  // the static snapshot, kept for readers without JavaScript
      this.cell.classList.add("rooflib-live-ready");
    }
  }

  async function main() {
    window.rooflibLive = [];
    const found = Array.from(document.querySelectorAll("script.rooflib-live-data"));
    for (let i = 0; i < found.length; i++) {
      const el = found[i];
      const cell = el.closest(".cell") || el.parentElement;
      try {
        const data = await decode(el);
        const ex = new LiveExplorer(data, cell, i);
        window.rooflibLive.push(ex);
        await ex.start();
      } catch (err) {
        console.error("live explorer " + (i + 1) + " failed; the static snapshot stays: " + err);
      }
    }
    document.documentElement.dataset.rooflibLive = String(window.rooflibLive.length);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
