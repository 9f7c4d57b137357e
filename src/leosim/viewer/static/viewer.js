/* leosim viewer: a CesiumJS globe of one run (scene.czml + viewer.json), with no network access
 * beyond the local server that serves this page. Loaded before Cesium.js (sets CESIUM_BASE_URL).
 *
 * For tests and scripting: window.leosimViewer = {viewer, ready, error, pairs,
 *   satelliteCount(), highlightedPath(), currentRtt(), selectPair(index), setTime(iso)}.
 */
"use strict";
window.CESIUM_BASE_URL = "/cesium/";

(function () {
  const pathsByPair = new Map(); // route index -> its path entities (one per distinct path)
  const labelByPair = new Map(); // route index -> its RTT label entity
  let dataSource = null;
  let selected = -1;

  const api = {
    viewer: null,
    ready: false,
    error: null,
    pairs: [],
    /** Number of satellite entities in the scene. */
    satelliteCount() {
      if (!dataSource) return 0;
      return dataSource.entities.values.filter((e) => e.id.startsWith("sat/")).length;
    },
    /** Node names of the highlighted route's path now ([] when unreachable). */
    highlightedPath() {
      const e = currentPathEntity();
      return e ? JSON.parse(e.properties.nodes.getValue(now())) : [];
    },
    /** RTT of the highlighted route now, ms (null when unreachable or no route). */
    currentRtt() {
      const e = labelByPair.get(selected);
      if (!e || !e.properties || !e.properties.rtt_ms) return null;
      const v = e.properties.rtt_ms.getValue(now());
      return v === undefined || v < 0 ? null : v;
    },
    selectPair,
    /** Stop the clock at an ISO 8601 time. */
    setTime(iso) {
      const clock = api.viewer.clock;
      clock.shouldAnimate = false;
      clock.currentTime = Cesium.JulianDate.fromIso8601(iso);
      update();
      api.viewer.scene.requestRender();
    },
  };
  window.leosimViewer = api;

  function now() {
    return api.viewer.clock.currentTime;
  }

  /* The path entity of the selected route available now; at a boundary, the later one. */
  function currentPathEntity() {
    const time = now();
    let best = null;
    let bestStart = null;
    for (const e of pathsByPair.get(selected) || []) {
      if (!e.isAvailable(time)) continue;
      const iv = e.availability.findIntervalContainingDate(time);
      if (!best || Cesium.JulianDate.greaterThan(iv.start, bestStart)) {
        best = e;
        bestStart = iv.start;
      }
    }
    return best;
  }

  function selectPair(index) {
    selected = Number(index);
    for (const [k, list] of pathsByPair) for (const e of list) e.show = k === selected;
    for (const [k, e] of labelByPair) e.show = k === selected;
    const menu = document.getElementById("pair");
    if (menu && String(menu.value) !== String(selected)) menu.value = String(selected);
    update();
    if (api.viewer) api.viewer.scene.requestRender();
  }

  let lastText = "";
  function update() {
    if (!api.viewer) return;
    const rttEl = document.getElementById("rtt");
    const pathEl = document.getElementById("path");
    let rtt = "no route selected";
    let path = "";
    if (selected >= 0) {
      const v = api.currentRtt();
      const nodes = api.highlightedPath();
      rtt = v === null ? "unreachable" : `RTT ${v.toFixed(1)} ms`;
      path = nodes.length ? `${nodes.length - 1} hops: ${nodes.join(" › ")}` : "";
    }
    const text = rtt + "\n" + path;
    if (text !== lastText) {
      rttEl.textContent = rtt;
      pathEl.textContent = path;
      lastText = text;
    }
  }

  function fail(err) {
    api.error = String(err && err.stack ? err.stack : err);
    console.error("leosim viewer:", err);
    const el = document.getElementById("rtt");
    if (el) el.textContent = "error: " + String(err);
  }

  async function main() {
    Cesium.Ion.defaultAccessToken = ""; // no Cesium ion: every asset is served locally
    const viewer = new Cesium.Viewer("globe", {
      baseLayer: Cesium.ImageryLayer.fromProviderAsync(
        Cesium.TileMapServiceImageryProvider.fromUrl(
          Cesium.buildModuleUrl("Assets/Textures/NaturalEarthII"))),
      terrainProvider: new Cesium.EllipsoidTerrainProvider(),
      baseLayerPicker: false,
      geocoder: false,
      homeButton: false,
      navigationHelpButton: false,
      fullscreenButton: false,
      sceneModePicker: true,
      animation: true,
      timeline: true,
      shouldAnimate: false,
      // Render only when something changes (the clock runs, the camera moves, tiles arrive):
      // an idle, paused globe costs no CPU or GPU.
      requestRenderMode: true,
      maximumRenderTimeChange: 0.0,
    });
    api.viewer = viewer;

    let meta = { pairs: [] };
    try {
      const resp = await fetch("viewer.json");
      if (resp.ok) meta = await resp.json();
    } catch (err) {
      console.warn("viewer.json not loaded:", err);
    }
    dataSource = await Cesium.CzmlDataSource.load("scene.czml");
    await viewer.dataSources.add(dataSource);
    viewer.clockTrackedDataSource = dataSource;
    viewer.clock.shouldAnimate = false;

    for (const e of dataSource.entities.values) {
      const [kind, p] = e.id.split("/");
      if (kind === "path") {
        const k = Number(p);
        if (!pathsByPair.has(k)) pathsByPair.set(k, []);
        pathsByPair.get(k).push(e);
      } else if (kind === "pair") {
        labelByPair.set(Number(p), e);
      }
    }

    api.pairs = meta.pairs || [];
    const menu = document.getElementById("pair");
    for (const p of api.pairs) {
      const opt = document.createElement("option");
      opt.value = String(p.index);
      opt.textContent = p.label;
      menu.appendChild(opt);
    }
    if (meta.omitted_pairs) {
      const opt = document.createElement("option");
      opt.disabled = true;
      opt.textContent = `(${meta.omitted_pairs} more routes not drawn)`;
      menu.appendChild(opt);
    }
    menu.addEventListener("change", () => selectPair(menu.value));
    document.getElementById("title").textContent = meta.scenario || "leosim";

    const home = meta.home || { lat_deg: 20, lon_deg: 0 };
    viewer.camera.setView({
      destination: Cesium.Cartesian3.fromDegrees(home.lon_deg, home.lat_deg, 9.0e6),
    });
    selectPair(api.pairs.length ? api.pairs[0].index : -1);
    viewer.clock.onTick.addEventListener(update);
    api.ready = true;
  }

  window.addEventListener("load", () => main().catch(fail));
})();
