// make bench: render one template many times with liquidjs (and liquidjs + mjml), on one
// core, with the same data Nudge renders it with. Prints one JSON object.
//
//   node bench.mjs TEMPLATE_FILE CONTEXT_JSON ITERATIONS
//
// TEMPLATE_FILE is a Nudge template (front matter + MJML body); only the body is used.
// CONTEXT_JSON is what Nudge's templates see (written by the Rust bench).
import { readFileSync } from "node:fs";
import { Liquid } from "liquidjs";
import mjml2html from "mjml";

const [templatePath, contextPath, iterationsText] = process.argv.slice(2);
const iterations = Number(iterationsText);
const source = readFileSync(templatePath, "utf8");
const body = source.replace(/^---\n[\s\S]*?\n---\n/, "");
const context = JSON.parse(readFileSync(contextPath, "utf8"));

// As in Nudge: outputs HTML-escaped, missing values nil, the same `money` filter.
const engine = new Liquid({ outputEscape: "escape", strictVariables: false });
engine.registerFilter("money", (amount, currency = "USD") => {
  if (amount === null || amount === undefined) return amount;
  const cents = Math.round(Math.abs(Number(amount)) * 100);
  const grouped = Math.floor(cents / 100).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const number = `${grouped}.${String(cents % 100).padStart(2, "0")}`;
  const symbol = { USD: "$", EUR: "€", GBP: "£" }[String(currency).toUpperCase()];
  return symbol ? `${Number(amount) < 0 ? "-" : ""}${symbol}${number}` : `${number} ${currency}`;
});
engine.registerFilter("raw", (value) => value);
const compiled = engine.parse(body);

function contextFor(i) {
  // A different person each time, as in a real send.
  return { ...context, person: { ...context.person, first_name: `Person ${i}` } };
}

function measure(warmup, run) {
  for (let i = 0; i < warmup; i++) run(i);
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < iterations; i++) bytes += run(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { per_second: iterations / seconds, bytes: Math.round(bytes / iterations) };
}

async function measureAsync(warmup, run) {
  for (let i = 0; i < warmup; i++) await run(i);
  const start = process.hrtime.bigint();
  let bytes = 0;
  for (let i = 0; i < iterations; i++) bytes += await run(i);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return { per_second: iterations / seconds, bytes: Math.round(bytes / iterations) };
}

const liquid = measure(Math.min(200, iterations), (i) => engine.renderSync(compiled, contextFor(i)).length);
const withMjml = await measureAsync(Math.min(50, iterations), async (i) => {
  const result = await mjml2html(engine.renderSync(compiled, contextFor(i)), { validationLevel: "soft" });
  return result.html.length;
});
console.log(JSON.stringify({ node: process.version, liquidjs: liquid, liquidjs_mjml: withMjml }));
