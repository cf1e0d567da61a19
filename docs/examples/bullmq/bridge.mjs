// batchgate's BullMQ bridge: listens to BullMQ's QueueEvents and pushes to batchgate what
// happens to each job, as the Celery and RQ integrations do (docs/client.md).
//
//   BATCHGATE_URL=http://batchgate:9091 REDIS_URL=redis://redis:6379 node bridge.mjs emails reports
//
// Or in your own process: `import { bridge } from "./bridge.mjs"; const stop = bridge("emails", ...)`.
//
// A job is a run of the batchgate job named as the BullMQ job's name, its run id the job id,
// its queue the queue. added -> queued, active -> start (with its attempt), completed ->
// success, failed -> fail (BullMQ's final failure, with the reason). An attempt that failed
// and will be tried again shows as the job going back to waiting (`waiting`, prev `active`)
// or to delayed (a backoff): -> retry, with the failed reason.
// Every `depthEvery` ms, each queue's waiting, delayed and active counts and whether it is
// paused go as a queue_state snapshot. Events are sent in batches every 200 ms; a failed
// push is retried with the next batch (up to 10,000 events kept), never blocking BullMQ.
import { Job, Queue, QueueEvents } from "bullmq";

const LINGER_MS = 200;
const MAX_KEPT = 10000;

export function bridge(queueName, { connection, url, token, depthEvery = 30000 } = {}) {
  const target = `${(url ?? process.env.BATCHGATE_URL ?? "http://127.0.0.1:9091").replace(/\/$/, "")}/push`;
  const auth = token ?? process.env.BATCHGATE_TOKEN;
  const queue = new Queue(queueName, { connection });
  const events = new QueueEvents(queueName, { connection });
  let pending = [];
  let sending = false;

  const retries = new Map(); // job id -> attempts retried so far
  const active = new Set(); // job ids running now
  let chain = Promise.resolve();
  // Handlers look the job up (asynchronously): they run one after the other, in the order
  // BullMQ told, each event timed when it was told, so a retry never lands after the start
  // of the next attempt.
  const inOrder = (handler) => (payload) => {
    const at = Date.now() / 1000;
    chain = chain.then(() => handler(payload, at)).catch(() => {});
  };
  const send = (event, at = Date.now() / 1000) => {
    pending.push({ ...event, timestamp: at });
    if (pending.length > MAX_KEPT) pending = pending.slice(-MAX_KEPT);
  };
  const flush = async () => {
    if (sending || pending.length === 0) return;
    sending = true;
    const batch = pending;
    pending = [];
    try {
      const response = await fetch(target, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...(auth ? { Authorization: `Bearer ${auth}` } : {}) },
        body: JSON.stringify(batch),
      });
      // A 4xx names a bad event: sending it again would fail again. Anything else is retried.
      if (response.status >= 500) pending = batch.concat(pending);
    } catch {
      pending = batch.concat(pending);
    } finally {
      sending = false;
    }
  };
  const job = async (jobId) => {
    try {
      return await Job.fromId(queue, jobId);
    } catch {
      return undefined;
    }
  };
  const run = (found, jobId) => ({ job: found.name, run_id: String(jobId), queue: queueName });

  events.on("added", inOrder(({ jobId, name }, at) => {
    send({ job: name, event: "queued", run_id: String(jobId), queue: queueName }, at);
  }));
  const finish = (jobId) => {
    active.delete(jobId);
    retries.delete(jobId);
  };
  const retried = async (jobId, at) => {
    if (!active.delete(jobId)) return; // not an attempt that was running: nothing retried
    const attempt = (retries.get(jobId) ?? 0) + 1;
    retries.set(jobId, attempt);
    const found = await job(jobId);
    if (!found) return;
    // The job may have failed again since: its stack traces are kept one per attempt.
    const stack = (found.stacktrace ?? [])[attempt - 1];
    const message = stack ? String(stack).split("\n")[0] : String(found.failedReason ?? "");
    send({ ...run(found, jobId), event: "retry", message }, at);
  };
  events.on("active", inOrder(async ({ jobId }, at) => {
    active.add(jobId);
    const found = await job(jobId);
    if (!found) return;
    const event = { ...run(found, jobId), event: "start", attempt: (retries.get(jobId) ?? 0) + 1 };
    if (found.opts?.attempts) event.max_attempts = found.opts.attempts;
    send(event, at);
  }));
  events.on("waiting", inOrder(async ({ jobId, prev }, at) => {
    if (prev === "active") await retried(jobId, at);
  }));
  events.on("delayed", inOrder(async ({ jobId }, at) => retried(jobId, at)));
  events.on("completed", inOrder(async ({ jobId }, at) => {
    finish(jobId);
    const found = await job(jobId);
    if (found) send({ ...run(found, jobId), event: "success" }, at);
  }));
  events.on("failed", inOrder(async ({ jobId, failedReason }, at) => {
    finish(jobId);
    const found = await job(jobId);
    if (found) send({ ...run(found, jobId), event: "fail", message: String(failedReason ?? "") }, at);
  }));

  const depth = async () => {
    try {
      const counts = await queue.getJobCounts("waiting", "delayed", "active");
      send({ event: "queue_state", queue: queueName, waiting: counts.waiting, delayed: counts.delayed,
             active: counts.active, paused: await queue.isPaused() });
    } catch {
      // Redis away for a moment: the next round tries again.
    }
  };
  const flushing = setInterval(flush, LINGER_MS);
  const depthTimer = setInterval(depth, depthEvery);
  depth();

  return async function stop() {
    clearInterval(flushing);
    clearInterval(depthTimer);
    await events.close();
    await queue.close();
    await flush();
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const redis = new URL(process.env.REDIS_URL ?? "redis://127.0.0.1:6379");
  const connection = { host: redis.hostname, port: Number(redis.port || 6379) };
  const depthEvery = Number(process.env.DEPTH_EVERY_MS ?? 30000);
  const stops = process.argv.slice(2).map((name) => bridge(name, { connection, depthEvery }));
  const quit = async () => {
    await Promise.all(stops.map((stop) => stop()));
    process.exit(0);
  };
  process.on("SIGTERM", quit);
  process.on("SIGINT", quit);
  console.log(`batchgate bridge: reporting BullMQ queues ${process.argv.slice(2).join(", ")}`);
}
