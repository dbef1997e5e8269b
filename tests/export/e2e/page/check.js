/* global Cesium */
// In-page half of the export end-to-end check (the Python half is cesium_harness.py).
// Reads /expect.json: {timeoutMs, checks: [{tileset: URL, points, features: [{id, lon, lat, height}]}]};
// for each check loads the tileset with CesiumJS, waits until every tile in view is loaded, then
// for every expected feature looks straight down on its position, picks the feature there, reads
// its properties and the picked position. POSTs everything to /result.
"use strict";

function frames(scene, n) {
  return new Promise((resolve) => {
    let c = 0;
    const remove = scene.postRender.addEventListener(() => {
      if (++c >= n) { remove(); resolve(); }
    });
    scene.requestRender();
  });
}

function waitLoaded(scene, tileset, timeoutMs) {
  return new Promise((resolve) => {
    const deadline = performance.now() + timeoutMs;
    let count = 0;
    const remove = scene.postRender.addEventListener(() => {
      count++;
      if (tileset.tilesLoaded && count > 3) { remove(); resolve(true); }
      else if (performance.now() > deadline) { remove(); resolve(false); }
    });
    scene.requestRender();
  });
}

function plain(v) {
  if (typeof v === "bigint") return Number(v);
  if (v === undefined) return null;
  if (ArrayBuffer.isView(v)) return Array.from(v);
  return v;
}

async function checkOne(widget, check, timeoutMs) {
  const res = { tileset: check.tileset, loaded: false, allTilesLoaded: false, tilesLoaded: 0, tilesFailed: 0,
                errors: [], picks: [] };
  const scene = widget.scene;
  let tileset;
  try {
    tileset = await Cesium.Cesium3DTileset.fromUrl(check.tileset, { maximumScreenSpaceError: 16 });
  } catch (e) {
    res.errors.push({ type: "fromUrl", message: String(e && e.message || e) });
    return res;
  }
  res.loaded = true;
  res.assetVersion = tileset.asset.version;
  tileset.tileLoad.addEventListener(() => res.tilesLoaded++);
  tileset.tileFailed.addEventListener((e) => {
    res.tilesFailed++;
    res.errors.push({ type: "tileFailed", url: e.url, message: String(e.message) });
  });
  scene.primitives.add(tileset);
  if (check.points) tileset.style = new Cesium.Cesium3DTileStyle({ pointSize: 12 });

  // 1. overview: the whole tileset in view, all tiles loaded
  const bs = tileset.boundingSphere;
  const c = Cesium.Cartographic.fromCartesian(bs.center);
  res.centre = [Cesium.Math.toDegrees(c.longitude), Cesium.Math.toDegrees(c.latitude), c.height];
  widget.camera.flyToBoundingSphere(bs, { duration: 0,
    offset: new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-60), Math.max(bs.radius * 2.5, 50)) });
  res.allTilesLoaded = await waitLoaded(scene, tileset, timeoutMs);
  await frames(scene, 2);
  if (check.screenshot) res.screenshot = scene.canvas.toDataURL("image/png");
  res.overview = {
    featuresSelected: tileset.statistics.numberOfFeaturesSelected,
    trianglesSelected: tileset.statistics.numberOfTrianglesSelected,
    pointsSelected: tileset.statistics.numberOfPointsSelected,
    tilesWithContent: tileset.statistics.numberOfTilesWithContentReady,
  };

  // 2. far out (the whole layer a few dozen pixels wide): coarse tiles must still show buildings
  widget.camera.flyToBoundingSphere(bs, { duration: 0,
    offset: new Cesium.HeadingPitchRange(0, Cesium.Math.toRadians(-60), Math.max(bs.radius * 40, 800)) });
  res.farLoaded = await waitLoaded(scene, tileset, timeoutMs);
  await frames(scene, 2);
  res.far = {
    featuresSelected: tileset.statistics.numberOfFeaturesSelected,
    tilesSelected: tileset.statistics.selected,
  };

  // 3. every expected feature: look down on it, pick, read properties and the picked position
  for (const f of check.features) {
    const out = { expectedId: f.id };
    widget.camera.setView({
      destination: Cesium.Cartesian3.fromDegrees(f.lon, f.lat, f.height + (check.lookDownFrom || 120)),
      orientation: { heading: 0, pitch: Cesium.Math.toRadians(-90), roll: 0 },
    });
    out.loaded = await waitLoaded(scene, tileset, timeoutMs);
    await frames(scene, 2);
    const centre = new Cesium.Cartesian2(scene.canvas.clientWidth / 2, scene.canvas.clientHeight / 2);
    const target = Cesium.SceneTransforms.worldToWindowCoordinates(scene, Cesium.Cartesian3.fromDegrees(f.lon, f.lat, f.height));
    const at = target || centre;
    const picked = scene.pick(at, 3, 3);
    if (picked instanceof Cesium.Cesium3DTileFeature) {
      out.picked = true;
      out.featureId = picked.featureId;
      out.properties = {};
      for (const id of picked.getPropertyIds()) out.properties[id] = plain(picked.getProperty(id));
      if (scene.pickPositionSupported && !check.points) {
        const p = scene.pickPosition(at);
        if (p) {
          const pc = Cesium.Cartographic.fromCartesian(p);
          out.position = [Cesium.Math.toDegrees(pc.longitude), Cesium.Math.toDegrees(pc.latitude), pc.height];
        }
      }
    } else {
      out.picked = false;
      out.pickedType = picked ? String(picked.constructor && picked.constructor.name) : null;
    }
    res.picks.push(out);
  }
  scene.primitives.remove(tileset);
  return res;
}

async function run() {
  const expect = await (await fetch("/expect.json")).json();
  const out = { cesiumVersion: Cesium.VERSION, errors: [], checks: [] };
  window.addEventListener("error", (e) => out.errors.push({ type: "pageerror", message: String(e.message) }));
  const widget = new Cesium.CesiumWidget("map", {
    baseLayer: false,
    terrainProvider: new Cesium.EllipsoidTerrainProvider(),
    skyBox: false, skyAtmosphere: false, shadows: false, msaaSamples: 1,
    contextOptions: { webgl: { preserveDrawingBuffer: true } },
  });
  widget.showRenderLoopErrors = false;
  widget.scene.renderError.addEventListener((s, err) => out.errors.push({ type: "renderError", message: String(err) }));
  widget.scene.globe.show = false;  // picked positions must come from the tiles, not from the ellipsoid
  widget.scene.fog.enabled = false;
  for (const check of expect.checks) out.checks.push(await checkOne(widget, check, expect.timeoutMs));
  return out;
}

run().then(
  (res) => fetch("/result", { method: "POST", body: JSON.stringify(res) }),
  (e) => fetch("/result", { method: "POST", body: JSON.stringify({ errors: [{ type: "exception", message: String(e && e.stack || e) }] }) })
);
