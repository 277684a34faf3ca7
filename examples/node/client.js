#!/usr/bin/env node
// A minimal LLaVA-ST Serve client in Node.js: uploads a video (skipped if the server already has
// its sha256), then streams the answer to one question and prints the coordinates in seconds and
// pixels. The stubs are built at run time from the .proto files of the `proto` module (the same
// files ship inside the llavast-proto jar under llavast/v1/).
//
//   node client.js --target 127.0.0.1:50051 --video clip.mp4 --question "When does it happen?"
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const MEDIA_ID_HEADER = 'x-media-id'; // same routing header as the Java client and the server
const CHUNK_BYTES = 1 << 20;

function parseArgs(argv) {
  const a = { target: '127.0.0.1:50051', maxTokens: 64,
    protoDir: path.resolve(__dirname, '../../proto/src/main/proto') };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = argv[++i];
    if (k === '--target') a.target = v;
    else if (k === '--video') a.video = v;
    else if (k === '--question') a.question = v;
    else if (k === '--max-tokens') a.maxTokens = parseInt(v, 10);
    else if (k === '--proto-dir') a.protoDir = v;
    else throw new Error(`unknown option ${k}`);
  }
  if (!a.video || !a.question) {
    throw new Error('usage: client.js [--target HOST:PORT] --video FILE --question TEXT [--max-tokens N] [--proto-dir DIR]');
  }
  return a;
}

function loadApi(protoDir) {
  const files = ['media.proto', 'generation.proto'].map((f) => path.join('llavast/v1', f));
  const def = protoLoader.loadSync(files, {
    includeDirs: [protoDir], keepCase: true, longs: String, enums: String, defaults: true, oneofs: true,
  });
  return grpc.loadPackageDefinition(def).llavast.v1;
}

function sha256Id(file) {
  const h = crypto.createHash('sha256');
  h.update(fs.readFileSync(file));
  return 'sha256:' + h.digest('hex');
}

function mediaMetadata(id) {
  const md = new grpc.Metadata();
  md.set(MEDIA_ID_HEADER, id);
  return md;
}

function deadline(seconds) {
  return new Date(Date.now() + seconds * 1000);
}

function getMedia(media, id) {
  return new Promise((resolve, reject) => {
    media.GetMedia({ media_id: id }, mediaMetadata(id), { deadline: deadline(30) }, (err, info) => {
      if (err && err.code === grpc.status.NOT_FOUND) resolve(null);
      else if (err) reject(err);
      else resolve(info);
    });
  });
}

function upload(media, file, id) {
  return new Promise((resolve, reject) => {
    const size = fs.statSync(file).size;
    const call = media.UploadMedia(mediaMetadata(id), { deadline: deadline(600) }, (err, info) => {
      if (err) reject(err);
      else resolve(info);
    });
    call.write({ header: { kind: 'MEDIA_KIND_VIDEO', label: path.basename(file), expected_size_bytes: String(size) } });
    const stream = fs.createReadStream(file, { highWaterMark: CHUNK_BYTES });
    let sent = 0;
    stream.on('data', (chunk) => {
      sent += chunk.length;
      if (!call.write({ chunk })) {
        stream.pause(); // gRPC flow control: wait until the call drains
        call.once('drain', () => stream.resume());
      }
      process.stderr.write(`\rupload ${sent}/${size} bytes`);
    });
    stream.on('end', () => {
      process.stderr.write('\n');
      call.end();
    });
    stream.on('error', (e) => call.cancel() || reject(e));
  });
}

function describe(c) {
  const t = (x) => `${x.seconds.toFixed(2)}s`;
  const b = (x) => `[${[x.x1, x.y1, x.x2, x.y2].map((v) => Math.round(v.px)).join(',')}]px`;
  switch (c.value) {
    case 'timestamp': return `time ${t(c.timestamp)}`;
    case 'span': return `span ${t(c.span.start)}-${t(c.span.end)}`;
    case 'box': return `box ${b(c.box)}`;
    case 'timed_box': return `timed box ${b(c.timed_box.box)} @${t(c.timed_box.time)}`;
    default: return `unknown coordinate ${JSON.stringify(c)}`;
  }
}

function ask(generation, id, question, maxTokens) {
  return new Promise((resolve, reject) => {
    const req = {
      media: { media_id: id },
      prompt: { text: question },
      sampling: { max_new_tokens: maxTokens },
    };
    const call = generation.GenerateStream(req, mediaMetadata(id), { deadline: deadline(300) });
    let final = null;
    call.on('data', (msg) => {
      if (msg.event === 'delta') process.stdout.write(msg.delta.text);
      else if (msg.event === 'final') final = msg.final;
    });
    call.on('error', reject);
    call.on('end', () => resolve(final));
  });
}

async function main() {
  const args = parseArgs(process.argv);
  const api = loadApi(args.protoDir);
  const creds = grpc.credentials.createInsecure();
  const media = new api.MediaService(args.target, creds);
  const generation = new api.GenerationService(args.target, creds);
  try {
    const id = sha256Id(args.video);
    let info = await getMedia(media, id);
    if (info) {
      console.error(`${id} already on the server: not uploading again`);
    } else {
      info = await upload(media, args.video, id);
      console.error(`uploaded ${info.media_id} (${info.size_bytes} bytes, ${info.width_px}x${info.height_px}, ${info.duration_seconds}s)`);
      if (info.media_id !== id) throw new Error(`server id ${info.media_id} != local sha256 ${id}`);
    }
    const final = await ask(generation, id, args.question, args.maxTokens);
    process.stdout.write('\n');
    if (!final) throw new Error('stream ended without a final message');
    for (const c of final.coordinates) console.log('  ' + describe(c));
    const u = final.usage;
    console.log(`[${final.finish_reason.replace('FINISH_REASON_', '')}, ${u.generated_tokens} tokens, ` +
      `prompt ${u.prompt_tokens} (cached ${u.cached_tokens}), feature cache ${u.feature_cache_hit ? 'hit' : 'miss'}]`);
  } catch (e) {
    console.error(`error: ${e.code !== undefined ? grpc.status[e.code] + ': ' : ''}${e.details || e.message}`);
    process.exitCode = 1;
  } finally {
    media.close();
    generation.close();
  }
}

main();
