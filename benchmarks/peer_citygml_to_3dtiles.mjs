// Runs the npm package citygml-to-3dtiles (the peer in bench_export.py) with the projection of the
// generated district, which the package does not know by itself.
// Usage: node peer_citygml_to_3dtiles.mjs PACKAGE_DIR INPUT.gml OUTPUT_DIR SRS_NAME PROJ4
import path from "path";
import { pathToFileURL } from "url";

const [pkg, input, output, srsName, proj4] = process.argv.slice(2);
const { default: Converter } = await import(pathToFileURL(path.join(pkg, "src", "Converter.mjs")).href);
const converter = new Converter({ srsProjections: { [srsName]: proj4 } });
await converter.convertFiles(input, output);
