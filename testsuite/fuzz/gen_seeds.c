/*
 * gen_seeds.c - writes the binary seed corpora of the fuzz targets:
 * real frames built with frame_build (what mctld, mnoded, mstepd and mrun
 * really send each other), real PMI-1 conversations as MPICH 4.0 holds
 * them, and the inputs of the small targets in their byte layouts (each
 * target's comment describes its layout).
 *
 *   make testsuite/fuzz/gen_seeds && testsuite/fuzz/gen_seeds DIR
 *
 * writes DIR/TARGET/NAME for the targets frame, mctld, mrun_io, pmi,
 * iopath and jobopt.  The text corpora (conf, hostlist, directives) are
 * files written by hand.  `make fuzz-seeds` rewrites the corpora of the
 * source tree with it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "util.h"

#define MT(x) MERIDIAN__MSG_TYPE__MSG_##x

static const char *outdir;

static void seed(const char *target, const char *name, const struct strbuf *b)
{
	char *dir = xasprintf("%s/%s", outdir, target);
	char *path = xasprintf("%s/%s", dir, name);

	if (mkdir_p(dir, 0755) < 0 ||
	    write_file_atomic(path, b->s ? b->s : "", b->len, 0644) < 0) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	free(path);
	free(dir);
}

static void add_u8(struct strbuf *b, unsigned v)
{
	strbuf_addc(b, (char)(v & 0xff));
}

static void add_u16(struct strbuf *b, unsigned v)
{
	add_u8(b, v >> 8);
	add_u8(b, v);
}

static void add_frame(struct strbuf *b, unsigned type, uint32_t flags,
		      uint32_t req_id, const ProtobufCMessage *m)
{
	size_t len;
	uint8_t *f =
		frame_build((uint16_t)type, flags, req_id, NULL, 0, m, &len);

	strbuf_add(b, (const char *)f, len);
	free(f);
}

/* --- messages -------------------------------------------------------- */

static Meridian__Gpu gpu0 = MERIDIAN__GPU__INIT, gpu1 = MERIDIAN__GPU__INIT;
static Meridian__Gpu *gpus[2] = {&gpu0, &gpu1};

static void msg_register(Meridian__NodeRegister *r, const char *name)
{
	meridian__node_register__init(r);
	gpu0.index = 0;
	gpu0.model = "a100";
	gpu0.pci_bus_id = "0000:3b:00.0";
	gpu0.cpuset = "0-1";
	gpu1.index = 1;
	gpu1.model = "a100";
	gpu1.pci_bus_id = "0000:5e:00.0";
	gpu1.cpuset = "2-3";
	r->name = (char *)name;
	r->cpus = 4;
	r->real_memory = 4096;
	r->gpus = gpus;
	r->n_gpus = 2;
	r->hostname = (char *)name;
	r->version = "0.1.0";
	r->boot_time = 1700000000;
}

static const char script[] = "#!/bin/sh\n#SBATCH -N 1\nhostname\n";
static char *env[] = {"PATH=/usr/bin:/bin", "HOME=/home/alice"};

static void msg_desc(Meridian__JobDesc *d, unsigned nodes, unsigned gpus_n)
{
	meridian__job_desc__init(d);
	d->name = "job";
	d->work_dir = "/tmp";
	d->submit_dir = "/tmp";
	d->std_out = "%x-%j.out";
	d->min_nodes = nodes;
	d->ntasks = nodes * 2;
	d->gpus_per_node = gpus_n;
	d->time_limit = 10;
	d->export_mode = "ALL";
}

/* SubmitJobRequest with its desc and spec (static storage) */
static Meridian__SubmitJobRequest *msg_submit(unsigned nodes, unsigned g,
					      bool interactive)
{
	static Meridian__SubmitJobRequest req;
	static Meridian__JobDesc d;
	static Meridian__JobSpec spec;

	meridian__submit_job_request__init(&req);
	meridian__job_spec__init(&spec);
	msg_desc(&d, nodes, g);
	d.interactive = interactive;
	if (!interactive) {
		spec.script.data = (uint8_t *)script;
		spec.script.len = sizeof(script) - 1;
	}
	spec.env = env;
	spec.n_env = 2;
	req.desc = &d;
	req.spec = &spec;
	req.user_name = "alice";
	req.submit_host = "login1";
	return &req;
}

/* --- fuzz_mctld: ops ------------------------------------------------- */

enum { U_ROOT = 0, U_ALICE = 1, U_BOB = 2 };
enum { P_USER = 0, P_N1 = 1, P_N2 = 2, P_N3 = 3 };

static void op_frame(struct strbuf *b, bool then_turn, unsigned uid,
		     unsigned peer, unsigned type, uint32_t flags,
		     uint32_t req_id, const ProtobufCMessage *m)
{
	add_u8(b, (then_turn ? 1u << 5 : 0) | uid << 2 | peer);
	add_frame(b, type, flags, req_id, m);
}

static void op_push_reply(struct strbuf *b, unsigned peer, bool error)
{
	add_u8(b, 2u << 5 | (error ? 1u << 2 : 0) | peer);
}

static void op_turn(struct strbuf *b)
{
	add_u8(b, 3u << 5);
}

static void op_close(struct strbuf *b, unsigned peer)
{
	add_u8(b, 4u << 5 | peer);
}

static void op_tick(struct strbuf *b, unsigned times30)
{
	add_u8(b, 5u << 5);
	add_u8(b, times30);
}

static void mctld_register(struct strbuf *b, unsigned peer, const char *name)
{
	Meridian__NodeRegister r;

	msg_register(&r, name);
	op_frame(b, true, U_ROOT, peer, MT(NODE_REGISTER), 0, 1, &r.base);
}

static void mctld_seeds(void)
{
	struct strbuf b = {0};
	Meridian__NodeHeartbeat hb = MERIDIAN__NODE_HEARTBEAT__INIT;
	Meridian__JobInfoRequest ji = MERIDIAN__JOB_INFO_REQUEST__INIT;
	Meridian__JobEnd je = MERIDIAN__JOB_END__INIT;
	Meridian__CancelJobRequest cj = MERIDIAN__CANCEL_JOB_REQUEST__INIT;
	Meridian__UpdateJobRequest uj = MERIDIAN__UPDATE_JOB_REQUEST__INIT;
	Meridian__JobScriptRequest js = MERIDIAN__JOB_SCRIPT_REQUEST__INIT;
	Meridian__NodeInfoRequest ni = MERIDIAN__NODE_INFO_REQUEST__INIT;
	Meridian__UpdateNodeRequest un = MERIDIAN__UPDATE_NODE_REQUEST__INIT;
	Meridian__PingRequest ping = MERIDIAN__PING_REQUEST__INIT;
	Meridian__StepCreateRequest sc = MERIDIAN__STEP_CREATE_REQUEST__INIT;
	Meridian__StepDesc sd = MERIDIAN__STEP_DESC__INIT;
	Meridian__StepEnd se = MERIDIAN__STEP_END__INIT;
	Meridian__JobCompleteRequest jc = MERIDIAN__JOB_COMPLETE_REQUEST__INIT;
	Meridian__JobStepId jsid = MERIDIAN__JOB_STEP_ID__INIT, *jsids[1];
	Meridian__NodeJobStatus njs = MERIDIAN__NODE_JOB_STATUS__INIT,
				*jobs[1] = {&njs};
	Meridian__NodeRegister reg;
	static char *argv[] = {"hostname"};
	static char *names[] = {"n1", "n9"};
	uint32_t id1 = 1, id2 = 2;
	uint8_t key[32];

	memset(key, 'k', sizeof(key));

	/* a batch job's whole life on one node */
	mctld_register(&b, P_N1, "n1");
	hb.name = "n1";
	hb.running_jobs = 0;
	op_frame(&b, false, U_ROOT, P_N1, MT(NODE_HEARTBEAT), 0, 2, &hb.base);
	op_frame(&b, true, U_ALICE, P_USER, MT(SUBMIT_JOB), 0, 7,
		 &msg_submit(1, 1, false)->base);
	op_turn(&b);
	op_push_reply(&b, P_N1, false); /* LAUNCH_JOB acknowledged */
	op_turn(&b);
	ji.job_ids = &id1;
	ji.n_job_ids = 1;
	op_frame(&b, false, U_ALICE, P_USER, MT(JOB_INFO), 0, 8, &ji.base);
	je.job_id = 1;
	je.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	je.start_time = 1700000001;
	je.end_time = 1700000002;
	op_frame(&b, true, U_ROOT, P_N1, MT(JOB_END), 0, 3, &je.base);
	ji.all_states = true;
	op_frame(&b, false, U_BOB, P_USER, MT(JOB_INFO), 0, 9, &ji.base);
	seed("mctld", "batch-life", &b);
	b.len = 0;

	/* submit, hold, release, script, cancel; a failed launch */
	mctld_register(&b, P_N2, "n2");
	op_frame(&b, true, U_ALICE, P_USER, MT(SUBMIT_JOB), 0, 7,
		 &msg_submit(1, 0, false)->base);
	op_frame(&b, true, U_ALICE, P_USER, MT(SUBMIT_JOB), 0, 8,
		 &msg_submit(1, 2, false)->base);
	uj.job_ids = &id2;
	uj.n_job_ids = 1;
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_HOLD;
	op_frame(&b, true, U_ALICE, P_USER, MT(UPDATE_JOB), 0, 9, &uj.base);
	uj.action = MERIDIAN__JOB_ACTION__JOB_ACTION_RELEASE;
	op_frame(&b, true, U_BOB, P_USER, MT(UPDATE_JOB), 0, 10, &uj.base);
	js.job_id = 2;
	op_frame(&b, false, U_ALICE, P_USER, MT(JOB_SCRIPT), 0, 11, &js.base);
	op_push_reply(&b, P_N2, true); /* the launch failed on the node */
	op_turn(&b);
	cj.job_ids = &id1;
	cj.n_job_ids = 1;
	op_frame(&b, true, U_ALICE, P_USER, MT(CANCEL_JOB), 0, 12, &cj.base);
	cj.signal = 10;
	cj.job_ids = &id2;
	op_frame(&b, true, U_ROOT, P_USER, MT(CANCEL_JOB), 0, 13, &cj.base);
	op_tick(&b, 20);
	seed("mctld", "hold-cancel", &b);
	b.len = 0;

	/* mrun: an allocation, a step on two nodes, its ends */
	mctld_register(&b, P_N1, "n1");
	mctld_register(&b, P_N2, "n2");
	op_frame(&b, true, U_ALICE, P_USER, MT(SUBMIT_JOB), 0, 7,
		 &msg_submit(2, 0, true)->base);
	op_turn(&b);
	sd.ntasks = 4;
	sd.min_nodes = 2;
	sd.argv = argv;
	sd.n_argv = 1;
	sd.env = env;
	sd.n_env = 2;
	sd.mpi = "pmi1";
	sd.cpu_bind = "gpu-local";
	sc.job_id = 1;
	sc.desc = &sd;
	sc.io_host = "127.0.0.1";
	sc.io_port = 40000;
	sc.io_key.data = key;
	sc.io_key.len = sizeof(key);
	op_frame(&b, true, U_ALICE, P_USER, MT(STEP_CREATE), 0, 8, &sc.base);
	op_push_reply(&b, P_N1, false); /* LAUNCH_STEP */
	op_push_reply(&b, P_N2, false);
	se.job_id = 1;
	se.step_id = 0;
	se.node = "n1";
	se.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	se.failed_rank = -1;
	op_frame(&b, true, U_ROOT, P_N1, MT(STEP_END), 0, 4, &se.base);
	se.node = "n2";
	se.state = MERIDIAN__JOB_STATE__JOB_FAILED;
	se.exit_code = 3;
	se.failed_rank = 2;
	se.reason = "rank 2 exited with code 3";
	op_frame(&b, true, U_ROOT, P_N2, MT(STEP_END), 0, 4, &se.base);
	jsid.job_id = 1;
	jsid.step_id = 0;
	jsids[0] = &jsid;
	cj.job_ids = NULL;
	cj.n_job_ids = 0;
	cj.signal = 0;
	cj.steps = jsids;
	cj.n_steps = 1;
	op_frame(&b, true, U_ALICE, P_USER, MT(CANCEL_JOB), 0, 9, &cj.base);
	jc.job_id = 1;
	jc.exit_code = 3;
	op_frame(&b, true, U_ALICE, P_USER, MT(JOB_COMPLETE), 0, 10, &jc.base);
	seed("mctld", "mrun-step", &b);
	b.len = 0;

	/* admins and nodes: info, drain, resume, refusals, a re-register
	 * with a running job, a reconnect, a node timeout */
	mctld_register(&b, P_N1, "n1");
	ni.names = names;
	ni.n_names = 2;
	op_frame(&b, false, U_BOB, P_USER, MT(NODE_INFO), 0, 5, &ni.base);
	un.nodes = "n[1-2]";
	un.action = MERIDIAN__NODE_ACTION__NODE_ACTION_DRAIN;
	un.reason = "maintenance";
	op_frame(&b, true, U_ALICE, P_USER, MT(UPDATE_NODE), 0, 6, &un.base);
	op_frame(&b, true, U_ROOT, P_USER, MT(UPDATE_NODE), 0, 7, &un.base);
	un.action = MERIDIAN__NODE_ACTION__NODE_ACTION_RESUME;
	un.nodes = "n1";
	op_frame(&b, true, U_ROOT, P_USER, MT(UPDATE_NODE), 0, 8, &un.base);
	op_frame(&b, false, U_BOB, P_USER, MT(PING), 0, 9, &ping.base);
	op_close(&b, P_N1);
	msg_register(&reg, "n1");
	njs.job_id = 5;
	njs.running = true;
	reg.jobs = jobs;
	reg.n_jobs = 1;
	op_frame(&b, true, U_ROOT, P_N3, MT(NODE_REGISTER), 0, 1, &reg.base);
	op_frame(&b, false, U_ALICE, P_N3, MT(NODE_HEARTBEAT), 0, 2, &hb.base);
	op_tick(&b, 200);
	ni.n_names = 0;
	op_frame(&b, false, U_BOB, P_USER, MT(NODE_INFO), 0, 10, &ni.base);
	seed("mctld", "admin-nodes", &b);
	b.len = 0;

	/* garbage: a reply nobody asked for, an unknown-to-mctld type, a
	 * body that does not decode, a header that does not */
	op_frame(&b, false, U_ROOT, P_N1, MT(LAUNCH_JOB), MER_FRAME_REPLY, 99,
		 NULL);
	op_frame(&b, false, U_ALICE, P_USER, MT(STEP_OUTPUT), 0, 1, NULL);
	add_u8(&b, U_ALICE << 2);
	{
		struct frame_hdr h = {MER_FRAME_MAGIC,
				      MER_PROTO_VERSION,
				      MT(SUBMIT_JOB),
				      0,
				      3,
				      0,
				      3};
		uint8_t hdr[MER_FRAME_HDR_LEN];

		frame_hdr_encode(&h, hdr);
		strbuf_add(&b, (const char *)hdr, sizeof(hdr));
		strbuf_add(&b, "\x0a\xff\xff", 3);
	}
	add_u8(&b, 0);
	strbuf_add(&b, "GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		   strlen("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
	seed("mctld", "garbage", &b);
	strbuf_free(&b);
}

/* --- fuzz_frame: a receiver byte, then frames ---------------------------- */

static void frame_seeds(void)
{
	struct strbuf b = {0};
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	Meridian__LaunchJob lj = MERIDIAN__LAUNCH_JOB__INIT;
	Meridian__JobRecord jr = MERIDIAN__JOB_RECORD__INIT;
	Meridian__JobDesc d;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	Meridian__SignalJob sj = MERIDIAN__SIGNAL_JOB__INIT;
	Meridian__NodeRegisterReply rr = MERIDIAN__NODE_REGISTER_REPLY__INIT;
	Meridian__LaunchStep ls = MERIDIAN__LAUNCH_STEP__INIT;
	Meridian__StepRecord st = MERIDIAN__STEP_RECORD__INIT;
	Meridian__StepNode sn = MERIDIAN__STEP_NODE__INIT, *sns[1] = {&sn};
	Meridian__StepGo go = MERIDIAN__STEP_GO__INIT;
	Meridian__StepInput si = MERIDIAN__STEP_INPUT__INIT;
	Meridian__StepSignal ss = MERIDIAN__STEP_SIGNAL__INIT;
	Meridian__KvsFence kf = MERIDIAN__KVS_FENCE__INIT;
	Meridian__KvsPair kp = MERIDIAN__KVS_PAIR__INIT, *kps[1] = {&kp};
	Meridian__StepHello hi = MERIDIAN__STEP_HELLO__INIT;
	Meridian__StepOutput so = MERIDIAN__STEP_OUTPUT__INIT;
	Meridian__TaskExit te = MERIDIAN__TASK_EXIT__INIT;
	Meridian__StepEnd se = MERIDIAN__STEP_END__INIT;
	Meridian__SubmitJobReply sr = MERIDIAN__SUBMIT_JOB_REPLY__INIT;
	Meridian__JobInfoReply jir = MERIDIAN__JOB_INFO_REPLY__INIT;
	Meridian__JobRecord *jrs[1] = {&jr};
	Meridian__NodeRegister reg;
	uint32_t kill_jobs[2] = {4, 5};
	static uint8_t key[32];

	memset(key, 'k', sizeof(key));
	msg_desc(&d, 1, 1);
	jr.job_id = 3;
	jr.desc = &d;
	jr.user_id = 4242;
	jr.user_name = "alice";
	jr.state = MERIDIAN__JOB_STATE__JOB_RUNNING;
	jr.nodes = "n1";
	jr.batch_host = "n1";
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	spec.env = env;
	spec.n_env = 2;

	/* 0: mctld, req_ids picking each verdict (read, wait, refuse) */
	add_u8(&b, 0);
	msg_register(&reg, "n1");
	add_frame(&b, MT(NODE_REGISTER), 0, 4, &reg.base);
	add_frame(&b, MT(SUBMIT_JOB), 0, 6, &msg_submit(1, 1, false)->base);
	add_frame(&b, MT(LAUNCH_JOB), MER_FRAME_REPLY, 1, &ack.base);
	add_frame(&b, MT(PING), 0, 7, NULL);
	seed("frame", "mctld", &b);
	b.len = 0;

	/* 1: mnoded */
	add_u8(&b, 1);
	rr.heartbeat_interval = 30;
	rr.kill_jobs = kill_jobs;
	rr.n_kill_jobs = 2;
	add_frame(&b, MT(NODE_REGISTER), MER_FRAME_REPLY, 1, &rr.base);
	lj.job = &jr;
	lj.spec = &spec;
	lj.kill_wait = 30;
	lj.cluster = "fuzz";
	add_frame(&b, MT(LAUNCH_JOB), 0, 1, &lj.base);
	sj.job_id = 3;
	sj.signal = 15;
	sj.reason = "cancelled by alice";
	add_frame(&b, MT(SIGNAL_JOB), 0, 2, &sj.base);
	sn.node = "n1";
	sn.addr = "127.0.0.1";
	sn.ntasks = 2;
	st.step_id = 0;
	st.nodes = sns;
	st.n_nodes = 1;
	st.ntasks = 2;
	ls.job = &jr;
	ls.step = &st;
	ls.io_host = "127.0.0.1";
	ls.io_port = 40000;
	ls.io_key.data = key;
	ls.io_key.len = 32;
	add_frame(&b, MT(LAUNCH_STEP), 0, 3, &ls.base);
	add_frame(&b, MT(NODE_HEARTBEAT), MER_FRAME_REPLY, 2, &ack.base);
	{
		size_t len;
		uint8_t *f = frame_build_error(MT(JOB_END), 3, 2,
					       "job 3 does not exist", &len);

		strbuf_add(&b, (const char *)f, len);
		free(f);
	}
	seed("frame", "mnoded", &b);
	b.len = 0;

	/* 2: mstepd from mnoded */
	add_u8(&b, 2);
	sj.cancel = true;
	add_frame(&b, MT(SIGNAL_JOB), 0, 9, &sj.base);
	seed("frame", "mstepd-mnoded", &b);
	b.len = 0;

	/* 3: mstepd from mrun */
	add_u8(&b, 3);
	go.kvs_port = 40001;
	go.master_port = 29500;
	add_frame(&b, MT(STEP_GO), 0, 0, &go.base);
	si.data.data = (uint8_t *)"input\n";
	si.data.len = 6;
	add_frame(&b, MT(STEP_INPUT), 0, 0, &si.base);
	si.data.len = 0;
	si.eof = true;
	si.rows = 24;
	si.cols = 80;
	add_frame(&b, MT(STEP_INPUT), 0, 0, &si.base);
	ss.signal = 2;
	ss.reason = "interrupted";
	add_frame(&b, MT(STEP_SIGNAL), 0, 0, &ss.base);
	seed("frame", "mstepd-mrun", &b);
	b.len = 0;

	/* 4, 5: the KVS between the step's mstepds */
	kp.key = "P0-businesscard";
	kp.value = "description#n1$port#40123$ifname#127.0.0.1$";
	kf.job_id = 7;
	kf.step_id = 3;
	kf.node_index = 1;
	kf.barrier = 0;
	kf.pairs = kps;
	kf.n_pairs = 1;
	kf.io_key.data = key;
	kf.io_key.len = 32;
	add_u8(&b, 4);
	add_frame(&b, MT(KVS_FENCE), 0, 0, &kf.base);
	seed("frame", "kvs-fence", &b);
	b.len = 0;
	add_u8(&b, 5);
	kf.io_key.len = 0;
	add_frame(&b, MT(KVS_RELEASE), 0, 0, &kf.base);
	seed("frame", "kvs-release", &b);
	b.len = 0;

	/* 6: mrun from mstepd */
	add_u8(&b, 6);
	hi.job_id = 7;
	hi.step_id = 3;
	hi.io_key.data = key;
	hi.io_key.len = 32;
	hi.kvs_port = 40001;
	hi.master_port = 29500;
	add_frame(&b, MT(STEP_HELLO), 0, 0, &hi.base);
	so.rank = 0;
	so.stream = 1;
	so.data.data = (uint8_t *)"hello\n";
	so.data.len = 6;
	add_frame(&b, MT(STEP_OUTPUT), 0, 0, &so.base);
	te.rank = 0;
	te.exit_code = 0;
	add_frame(&b, MT(TASK_EXIT), 0, 0, &te.base);
	se.job_id = 7;
	se.step_id = 3;
	se.node = "n1";
	se.state = MERIDIAN__JOB_STATE__JOB_COMPLETED;
	se.failed_rank = -1;
	add_frame(&b, MT(STEP_NODE_END), 0, 0, &se.base);
	seed("frame", "mrun", &b);
	b.len = 0;

	/* 7: a command's replies */
	add_u8(&b, 7);
	sr.job_id = 3;
	add_frame(&b, MT(SUBMIT_JOB), MER_FRAME_REPLY, 1, &sr.base);
	jir.jobs = jrs;
	jir.n_jobs = 1;
	jir.now = 1700000000;
	add_frame(&b, MT(JOB_INFO), MER_FRAME_REPLY, 2, &jir.base);
	seed("frame", "command", &b);
	strbuf_free(&b);
}

/* --- fuzz_mrun_io: a layout byte, then chunks per connection ------------ */

static void chunk(struct strbuf *b, unsigned conn, bool close_after,
		  const struct strbuf *data)
{
	add_u8(b, conn | (close_after ? 0x80 : 0));
	add_u16(b, (unsigned)data->len);
	strbuf_add(b, data->s ? data->s : "", data->len);
}

static void mrun_node(struct strbuf *f, unsigned index, unsigned first,
		      unsigned n, bool fail)
{
	Meridian__StepHello hi = MERIDIAN__STEP_HELLO__INIT;
	Meridian__StepOutput so = MERIDIAN__STEP_OUTPUT__INIT;
	Meridian__TaskExit te = MERIDIAN__TASK_EXIT__INIT;
	Meridian__StepEnd se = MERIDIAN__STEP_END__INIT;
	static uint8_t key[32];
	char line[64];

	memset(key, 'k', sizeof(key));
	hi.job_id = 7;
	hi.step_id = 3;
	hi.node_index = index;
	hi.io_key.data = key;
	hi.io_key.len = 32;
	if (index == 0) {
		hi.kvs_port = 40001;
		hi.master_port = 29500;
	}
	add_frame(f, MT(STEP_HELLO), 0, 0, &hi.base);
	for (unsigned r = first; r < first + n; r++) {
		snprintf(line, sizeof(line), "rank %u says hel", r);
		so.rank = r;
		so.stream = 1;
		so.data.data = (uint8_t *)line;
		so.data.len = strlen(line);
		add_frame(f, MT(STEP_OUTPUT), 0, 0, &so.base);
		so.data.data = (uint8_t *)"lo\nsecond line\n";
		so.data.len = 15;
		add_frame(f, MT(STEP_OUTPUT), 0, 0, &so.base);
		so.stream = 2;
		so.data.data = (uint8_t *)"warning: partial";
		so.data.len = 16;
		add_frame(f, MT(STEP_OUTPUT), 0, 0, &so.base);
	}
	for (unsigned r = first; r < first + n; r++) {
		te.rank = r;
		te.exit_code = fail && r == first ? 3 : 0;
		te.aborted = fail && r == first + 1;
		te.reason = te.aborted ? "MPI_Abort(1)" : "";
		add_frame(f, MT(TASK_EXIT), 0, 0, &te.base);
	}
	se.job_id = 7;
	se.step_id = 3;
	se.node = "n1";
	se.state = fail ? MERIDIAN__JOB_STATE__JOB_FAILED
			: MERIDIAN__JOB_STATE__JOB_COMPLETED;
	se.exit_code = fail ? 3 : 0;
	se.failed_rank = fail ? (int)first : -1;
	se.reason = fail ? "rank exited with code 3" : "";
	add_frame(f, MT(STEP_NODE_END), 0, 0, &se.base);
}

static void mrun_seeds(void)
{
	struct strbuf b = {0}, f = {0};

	/* one node, two ranks each (layout: 1 node, 2 per node), labels */
	add_u8(&b, 1u << 5 | 1);
	mrun_node(&f, 0, 0, 2, false);
	chunk(&b, 0, false, &f);
	seed("mrun_io", "one-node-label", &b);
	b.len = f.len = 0;

	/* two nodes, one failing, kill-on-bad-exit; interleaved */
	add_u8(&b, 1u << 5 | 1u << 4 | 1u << 2);
	mrun_node(&f, 0, 0, 2, false);
	chunk(&b, 0, false, &f);
	f.len = 0;
	mrun_node(&f, 1, 2, 2, true);
	chunk(&b, 1, true, &f);
	seed("mrun_io", "two-nodes-fail", &b);
	b.len = f.len = 0;

	/* a stranger with a wrong key, then a duplicate hello, a pty */
	add_u8(&b, 2 | 1u << 2);
	{
		Meridian__StepHello hi = MERIDIAN__STEP_HELLO__INIT;

		hi.job_id = 7;
		hi.step_id = 3;
		hi.io_key.data = (uint8_t *)"not the key";
		hi.io_key.len = 11;
		add_frame(&f, MT(STEP_HELLO), 0, 0, &hi.base);
		chunk(&b, 2, false, &f);
		f.len = 0;
	}
	mrun_node(&f, 0, 0, 1, false);
	chunk(&b, 0, false, &f);
	chunk(&b, 3, true, &f);
	seed("mrun_io", "stranger-dup", &b);
	strbuf_free(&b);
	strbuf_free(&f);
}

/* --- fuzz_pmi: a layout byte, then operations ---------------------------- */

static void pmi_line(struct strbuf *b, unsigned rank, const char *line)
{
	add_u8(b, rank); /* kind 0: bytes from the rank */
	add_u8(b, (unsigned)strlen(line));
	strbuf_add(b, line, strlen(line));
}

/* MPICH 4.0's simple PMI client from MPI_Init to MPI_Finalize. */
static void pmi_session(struct strbuf *b, unsigned rank, int phase)
{
	char line[200];

	switch (phase) {
	case 0:
		pmi_line(b, rank, "cmd=init pmi_version=1 pmi_subversion=1\n");
		pmi_line(b, rank, "cmd=get_maxes\n");
		pmi_line(b, rank, "cmd=get_appnum\n");
		pmi_line(b, rank, "cmd=get_my_kvsname\n");
		pmi_line(b, rank, "cmd=get_universe_size\n");
		pmi_line(b, rank,
			 "cmd=get kvsname=kvs_7_0 "
			 "key=PMI_process_mapping\n");
		snprintf(line, sizeof(line),
			 "cmd=put kvsname=kvs_7_0 key=P%u-businesscard "
			 "value=description#n1$port#4012%u$ifname#127.0.0.1$\n",
			 rank, rank);
		pmi_line(b, rank, line);
		pmi_line(b, rank, "cmd=barrier_in\n");
		break;
	case 1:
		snprintf(line, sizeof(line),
			 "cmd=get kvsname=kvs_7_0 key=P%u-businesscard\n",
			 rank ^ 1);
		pmi_line(b, rank, line);
		pmi_line(b, rank, "cmd=barrier_in\n");
		break;
	default:
		pmi_line(b, rank, "cmd=finalize\n");
		break;
	}
}

static void pmi_seeds(void)
{
	struct strbuf b = {0};

	/* one node, two ranks: the whole of MPI_Init .. MPI_Finalize */
	add_u8(&b, 1 | 1u << 3);
	for (int phase = 0; phase < 3; phase++)
		for (unsigned r = 0; r < 2; r++)
			pmi_session(&b, r, phase);
	seed("pmi", "one-node", &b);
	b.len = 0;

	/* node 1 of two (ranks 2, 3 of 4): releases from "node 0",
	 * an unblock, a held get, the step's own put */
	add_u8(&b, 3 | 1u << 3 | 0x40);
	for (unsigned r = 0; r < 2; r++)
		pmi_session(&b, r, 0);
	add_u8(&b, 22u << 3); /* release */
	pmi_line(&b, 0, "cmd=barrier_in\n");
	add_u8(&b, 24u << 3); /* unblock */
	pmi_line(&b, 0, "cmd=get kvsname=kvs_7_0 key=remote-1\n");
	add_u8(&b, 26u << 3);
	strbuf_add(&b, "MERIDIAN_key\0value\0", 19);
	pmi_line(&b, 1, "cmd=barrier_in\n");
	add_u8(&b, 22u << 3);
	pmi_line(&b, 0, "cmd=finalize\n");
	add_u8(&b, 20u << 3 | 1); /* rank 1 closes without finalize */
	seed("pmi", "two-nodes", &b);
	b.len = 0;

	/* refusals: abort, garbage, spawn, name service, a long line */
	add_u8(&b, 2 | 2u << 3);
	pmi_line(&b, 0, "cmd=init pmi_version=1 pmi_subversion=1\n");
	pmi_line(&b, 0, "cmd=publish_name service=x port=y\n");
	pmi_line(&b, 0, "cmd=lookup_name service=x\n");
	pmi_line(&b, 0, "cmd=unpublish_name service=x\n");
	pmi_line(&b, 1, "mcmd=spawn\nnprocs=1\nexecname=/bin/true\nendcmd\n");
	pmi_line(&b, 1, "cmd=put kvsname=wrong key=a value=b\n");
	pmi_line(&b, 1, "cmd=put kvsname=kvs_7_0 key= value=b\n");
	pmi_line(&b, 1, "cmd=bogus\n");
	pmi_line(&b, 1, "no equals sign\n");
	pmi_line(&b, 2, "cmd=barrier_in\ncmd=barrier_in\n");
	add_u8(&b, 28u << 3 | 2); /* rank 2's connection fails */
	pmi_line(&b, 2, "cmd=get_maxes\n");
	pmi_line(&b, 1, "cmd=abort exitcode=7 message=it went wrong\n");
	pmi_line(&b, 1, "cmd=get_maxes\n");
	seed("pmi", "refusals", &b);
	strbuf_free(&b);
}

/* --- fuzz_iopath and fuzz_jobopt ---------------------------------------- */

static void iopath_seed(const char *name, unsigned flags, uint32_t job,
			const char *pattern, const char *wd)
{
	struct strbuf b = {0};

	add_u8(&b, flags);
	add_u16(&b, job >> 16);
	add_u16(&b, job & 0xffff);
	add_u16(&b, 3);	 /* step */
	add_u16(&b, 1);	 /* node index */
	add_u16(&b, 12); /* task */
	strbuf_add(&b, "train\0alice\0gpu-n1\0", 19);
	strbuf_add(&b, wd, strlen(wd) + 1);
	strbuf_add(&b, pattern, strlen(pattern));
	seed("iopath", name, &b);
	strbuf_free(&b);
}

static void jobopt_seed(const char *name, unsigned mode, const char *lines)
{
	struct strbuf b = {0};

	add_u8(&b, mode);
	strbuf_add(&b, lines, strlen(lines));
	seed("jobopt", name, &b);
	strbuf_free(&b);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	outdir = argv[1];
	mctld_seeds();
	frame_seeds();
	mrun_seeds();
	pmi_seeds();
	iopath_seed("batch", 0, 4242, "%x-%j.out", "/home/alice");
	iopath_seed("step", 1, 123456, "/scratch/%u/%J-%3t-%N.%n.log", "/tmp");
	iopath_seed("pad", 1, 7, "out-%010j-%5s-%%-%q-%A_%a-%", "rel/dir/");
	jobopt_seed("mbatch", 0,
		    "-J\ntrain\n-N\n2\n--ntasks-per-node=4\n--gpus-per-node="
		    "a100:2\n--mem=16G\n-t\n1-02:00:00\n--export=ALL,A=2\n"
		    "-o\n%x-%j.out\n--max-price=2.50\n--hold\njob.sh\narg1\n");
	jobopt_seed("mbatch-gres", 2,
		    "--gres=gpu:h100:8\n-p\ngpu\n-A\nproj\n--parsable\n"
		    "--time=90\n--wrap=hostname\n-c4\n");
	jobopt_seed("mrun", 1,
		    "-n\n8\n-N\n2\n--gpus-per-task=1\n--cpu-bind=gpu-local\n"
		    "--mpi=pmi1\n-l\n-K\n--finalize-timeout=30\n-vv\n"
		    "--export=NONE,PATH\n./a.out\n--flag\n");
	jobopt_seed("mrun-pty", 1,
		    "--pty\n-G\n4\n-n\n2\n--gpus=a100:4\n-K0\nbash\n");
	jobopt_seed("mrun-bad", 1, "--wrap=x\n--mem=12X\n-n\n0\n");
	return 0;
}
