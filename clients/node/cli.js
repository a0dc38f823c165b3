#!/usr/bin/env node
'use strict';
// `ace3d-client VIDEO`: the Node twin of `ace3d client` (same options, same table, same --json file: the
// Explanation's canonical proto3 JSON). Exit status 2 on an error, as `ace3d client`.

const fs = require('node:fs');
const { parseArgs } = require('node:util');
const { Ace3dClient, readToken, toCanonicalJson, table, volume } = require('./index.js');

const USAGE = `usage: ace3d-client VIDEO [--target HOST:PORT] [--model NAME] [--stream] [--target-class NAME]
       [--top-k N] [--max-concepts N] [--max-clips N] [--score-clips N] [--classify-only] [--json FILE|-] [--raw FILE]
       [--token KEY | --token-file key_file.json] [--tls-ca PEM] [--deadline SECONDS]`;

const OPTIONS = {
  target: { type: 'string', default: '127.0.0.1:7070' },
  model: { type: 'string', default: 'demo' },
  stream: { type: 'boolean', default: false },
  'target-class': { type: 'string', default: '' },
  'top-k': { type: 'string', default: '5' },
  'max-concepts': { type: 'string', default: '0' },
  'max-clips': { type: 'string', default: '1' },
  'score-clips': { type: 'string', default: '0' },
  'classify-only': { type: 'boolean', default: false },
  json: { type: 'string' },
  raw: { type: 'string' },
  token: { type: 'string' },
  'token-file': { type: 'string' },
  'tls-ca': { type: 'string' },
  deadline: { type: 'string', default: '120' },
  help: { type: 'boolean', short: 'h', default: false },
};

function count(args, name) {
  const n = Number(args[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a whole number >= 0, not ${args[name]}`);
  return n;
}

// `--name value` pairs of string options joined as `--name=value`: parseArgs refuses a value that starts with a
// dash (`--token -Xy...`), and TorchServe's random keys can.
function joinValues(argv) {
  const out = [];
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].startsWith('--') ? argv[i].slice(2) : null;
    if (name && OPTIONS[name] && OPTIONS[name].type === 'string' && i + 1 < argv.length) {
      out.push(`--${name}=${argv[++i]}`);
    } else {
      out.push(argv[i]);
    }
  }
  return out;
}

async function main(argv) {
  const { values: args, positionals } = parseArgs({ args: joinValues(argv), options: OPTIONS, allowPositionals: true });
  if (args.help || positionals.length !== 1) {
    console.log(USAGE);
    return args.help ? 0 : 2;
  }
  const video = positionals[0];
  if (!fs.existsSync(video) || !fs.statSync(video).isFile()) throw new Error(`video file not found: ${video}`);
  const deadline = Number(args.deadline);
  if (!(deadline > 0)) throw new Error(`--deadline must be a number of seconds > 0, not ${args.deadline}`);
  const options = { targetClass: args['target-class'], topK: count(args, 'top-k'),
    maxConcepts: count(args, 'max-concepts'), maxClips: count(args, 'max-clips'),
    scoreClips: count(args, 'score-clips'), classifyOnly: args['classify-only'] };
  const token = readToken({ token: args.token, tokenFile: args['token-file'] });
  const client = new Ace3dClient(args.target, { model: args.model, token, deadline, tlsCa: args['tls-ca'] });
  const toStdout = args.json === '-';
  const say = toStdout ? (s) => console.error(s) : (s) => console.log(s);
  let final = null;
  try {
    const data = fs.readFileSync(video);
    if (args.stream) {
      for await (const exp of client.stream(data, options)) {
        if (exp.partial) {
          const c = exp.clips[0];
          say(`clip ${c.clipIndex + 1}/${exp.clipCount} done: ${c.concepts.length} concepts`);
        } else {
          final = exp;
        }
      }
      if (final === null) throw new Error('the stream ended without a final answer');
    } else {
      final = await client.explain(data, options);
    }
  } finally {
    client.close();
  }
  say(table(final));
  for (const clip of final.clips) { // every volume decodes to its shape: a corrupt answer fails here
    if (clip.heatmap) volume(clip.heatmap);
    if (clip.conceptMap) volume(clip.conceptMap);
  }
  if (args.raw) { // the final answer's bytes as received: what another decoder can check this one against
    fs.writeFileSync(args.raw, final.$raw);
    say(`wrote ${args.raw}`);
  }
  if (args.json) {
    const text = JSON.stringify(toCanonicalJson(final), null, 1);
    if (toStdout) {
      process.stdout.write(text + '\n');
    } else {
      fs.writeFileSync(args.json, text);
      say(`wrote ${args.json}`);
    }
  }
  return 0;
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (err) => {
  console.error(`ace3d-client: error: ${err.message}`);
  process.exitCode = 2;
});
