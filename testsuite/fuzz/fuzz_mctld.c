/*
 * fuzz_mctld.c - frames into the controller's real handlers.
 *
 * Each input runs a fresh controller context (mctld_create over a
 * meridian.conf with four nodes and two partitions, LMDB in a temporary
 * directory, the plugins built for fuzzing, no credentials and no
 * listener, as src/mctld/test/harness.c makes one) and feeds it frames
 * over up to four fake peers, the way on_conn_frame hands them on:
 * requests to rpc_dispatch as a chosen uid, replies (to what mctld
 * pushed) to rpc_on_frame.  A loop turn (scheduling pass, commit, outbox)
 * runs when the input says, and at the end.
 *
 * The input is a list of operations, each one byte:
 *   bits 0-1  the peer (a closed one comes back as a new connection)
 *   bits 2-4  the uid of a request: root, alice (4242), bob (4343),
 *             nobody (65534), then again
 *   bits 5-7  0 a frame (28-byte header, credential and body as the
 *             header says); 1 and 6-7 a frame, then a turn; 2 reply Ack
 *             to the last request mctld pushed to the peer (uid bit 0
 *             set: an ErrorReply instead); 3 a turn; 4 the peer's
 *             connection closes; 5 the housekeeping tick, the next byte
 *             times 30 s after the start
 * A frame whose header does not decode closes its peer, as conn.c
 * would; a frame cut short ends the input.
 *
 * Checks: every frame mctld sends decodes (header, lengths, body as the
 * table's reply or request of its type); the controller survives (no
 * crash, leak, undefined behaviour; LMDB and the plugins are real).
 */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "log.h"
#include "mctld.h"

#define NPEERS 4

struct fz_peer {
	struct peer *p; /* NULL: closed (a new one is made on use) */
	bool close_due; /* close_after_flush: close after this frame */
	bool pushed;	/* a request of mctld's to answer */
	uint16_t push_type;
	uint32_t push_id;
};

static struct fz_peer peers[NPEERS];
static bool verbose;	/* $MERIDIAN_FUZZ_VERBOSE: say what mctld sends */
static char *dir;	/* the temporary directory of the whole run */
static char *state_dir; /* dir/state, made anew for each input */
static char *conf_text;

/* --- the fake transport ---------------------------------------------- */

static int fz_send(struct peer *p, const uint8_t *buf, size_t len)
{
	struct fz_peer *fp = peer_impl(p);
	struct mer_error err = {""};
	struct frame_hdr h;
	ProtobufCMessage *m;

	if (!fp)
		abort(); /* sent to a peer mctld was told is closed */
	/* What mctld sends must be a frame its peers can decode. */
	if (len < MER_FRAME_HDR_LEN || frame_hdr_decode(buf, &h, &err) < 0 ||
	    len != MER_FRAME_HDR_LEN + (size_t)h.cred_len + h.body_len)
		abort();
	m = frame_unpack_body(&h, buf + MER_FRAME_HDR_LEN + h.cred_len,
			      h.body_len, &err);
	if (!m)
		abort();
	if (verbose)
		fprintf(stderr, "fuzz_mctld: to %s: %s%s%s req %u: %s\n",
			peer_name(p), msg_type_name(h.type),
			h.flags & MER_FRAME_REPLY ? " reply" : "",
			h.flags & MER_FRAME_ERROR ? " error" : "", h.req_id,
			h.flags & MER_FRAME_ERROR
				? ((Meridian__ErrorReply *)m)->text
				: "");
	protobuf_c_message_free_unpacked(m, NULL);
	if (!(h.flags & MER_FRAME_REPLY)) {
		fp->pushed = true;
		fp->push_type = h.type;
		fp->push_id = h.req_id;
	}
	return 0;
}

static void fz_close(struct peer *p)
{
	struct fz_peer *fp = peer_impl(p);

	if (fp)
		memset(fp, 0, sizeof(*fp));
	peer_closed(p, "closed by the fuzzer");
}

static void fz_close_after_flush(struct peer *p)
{
	struct fz_peer *fp = peer_impl(p);

	if (fp)
		fp->close_due = true; /* nothing is queued: at once after */
}

static const struct peer_ops fz_ops = {fz_send, fz_close, fz_close_after_flush};

static struct peer *get_peer(struct mctld *ctx, unsigned i)
{
	static const char *const names[NPEERS] = {"10.0.0.1:4000", "n1", "n2",
						  "n3"};

	if (!peers[i].p)
		peers[i].p = peer_create(ctx, names[i], &fz_ops, &peers[i]);
	return peers[i].p;
}

static void close_peer(unsigned i)
{
	if (peers[i].p)
		fz_close(peers[i].p);
}

/* --- set-up ---------------------------------------------------------- */

/* The plugins built with fuzzing instrumentation, beside this program
 * ($MERIDIAN_FUZZ_PLUGIN_DIR overrides).  They stay loaded: a module
 * with coverage counters must not be unmapped while libFuzzer reads
 * them, and each context's dlopen/dlclose would do that. */
static char *plugin_dir(void)
{
	static const char *const names[] = {"sched_fifo", "select_linear",
					    "price_flat"};
	const char *env = getenv("MERIDIAN_FUZZ_PLUGIN_DIR");
	char exe[4096], *d;
	ssize_t n;

	if (env && *env) {
		d = xstrdup(env);
	} else {
		n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
		if (n <= 0)
			abort();
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		d = xasprintf("%s/plugins", exe);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char *so = xasprintf("%s/%s.so", d, names[i]);

		if (!dlopen(so, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE)) {
			fprintf(stderr, "fuzz_mctld: %s\n", dlerror());
			exit(1);
		}
		free(so);
	}
	return d;
}

static void cleanup(void)
{
	if (dir)
		remove_tree(dir);
}

/*
 * The directory of a run is named after its process, so that a run that
 * died (a crash ends it with _exit, past atexit) is found and removed by
 * the next one instead of filling the tmpfs.
 */
#define DIR_PREFIX "meridian-fuzz-mctld."

static void remove_stale(const char *base)
{
	DIR *d = opendir(base);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char *end, *path;
		long pid;

		if (strncmp(e->d_name, DIR_PREFIX, strlen(DIR_PREFIX)) != 0)
			continue;
		pid = strtol(e->d_name + strlen(DIR_PREFIX), &end, 10);
		if (*end || pid <= 0 ||
		    (pid != getpid() &&
		     (kill((pid_t)pid, 0) == 0 || errno != ESRCH)))
			continue; /* not ours, or its process lives */
		path = xasprintf("%s/%s", base, e->d_name);
		remove_tree(path);
		free(path);
	}
	closedir(d);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* tmpfs when there is one: every input commits to LMDB */
	const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm"
			   : getenv("TMPDIR")		 ? getenv("TMPDIR")
							 : "/tmp";
	char *plugins = plugin_dir();

	remove_stale(base);
	dir = xasprintf("%s/" DIR_PREFIX "%d", base, (int)getpid());
	if (mkdir(dir, 0700) < 0) {
		perror(dir);
		exit(1);
	}
	atexit(cleanup);
	state_dir = xasprintf("%s/state", dir);
	conf_text = xasprintf(
		"ClusterName=fuzz\n"
		"ControllerHost=127.0.0.1\n"
		"StateDir=%s\n"
		"SpoolDir=%s/spool/%%n\n"
		"PluginDir=%s\n"
		"GpuHourPrice=a100:2.10,default:0.50\n"
		"RegionName=eu UtcOffset=+01:00\n"
		"NodeName=n[1-3] CPUs=4 RealMemory=4096 Gres=gpu:a100:2 "
		"Region=eu\n"
		"NodeName=c1 CPUs=2 RealMemory=2048\n"
		"PartitionName=main Nodes=ALL Default=YES MaxTime=60\n"
		"PartitionName=gpu Nodes=n[1-3] MaxTime=UNLIMITED\n",
		state_dir, dir, plugins);
	free(plugins);
	verbose = getenv("MERIDIAN_FUZZ_VERBOSE") != NULL;
	log_set_level(verbose ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
	return 0;
}

static struct mctld *ctx_create(void)
{
	struct mctld_opts opts = {.no_auth = true, .no_listen = true};
	struct mer_error err = {""};
	struct conf *c;
	struct mctld *ctx;

	remove_tree(state_dir);
	if (mkdir_p(state_dir, 0700) < 0)
		abort();
	c = conf_parse("fuzz.conf", conf_text, strlen(conf_text), &err);
	if (!c || !(ctx = mctld_create(c, &opts, &err))) {
		fprintf(stderr, "fuzz_mctld: %s\n", err.text);
		abort();
	}
	return ctx;
}

static void turn(struct mctld *ctx)
{
	sched_run(ctx);
	mctld_commit(ctx);
}

/* --- one input ------------------------------------------------------- */

static const uid_t uids[8] = {0, 4242, 4343, 65534, 0, 4242, 4343, 1000};

/* The next frame of the input, copied to a buffer of its exact size so
 * that reading past it is caught.  -1: the input ends (mid-frame). */
static int take_frame(struct fuzz_in *in, struct frame_hdr *h, uint8_t **buf,
		      bool *bad)
{
	struct mer_error err = {""};
	const uint8_t *p;
	size_t got, n;

	*bad = false;
	*buf = NULL;
	if (in->left < MER_FRAME_HDR_LEN)
		return -1;
	if (frame_hdr_decode(in->p, h, &err) < 0) {
		/* conn.c closes the connection; its bytes are gone */
		fuzz_bytes(in, MER_FRAME_HDR_LEN, &got);
		*bad = true;
		return 0;
	}
	n = MER_FRAME_HDR_LEN + (size_t)h->cred_len + h->body_len;
	if (in->left < n)
		return -1;
	p = fuzz_bytes(in, n, &got);
	*buf = xmalloc(n);
	memcpy(*buf, p, n);
	return 0;
}

static void push_reply(struct mctld *ctx, unsigned i, bool error)
{
	Meridian__Ack ack = MERIDIAN__ACK__INIT;
	struct fz_peer *fp = &peers[i];
	struct mer_error err = {""};
	struct frame_hdr h;
	uint8_t *buf;
	size_t len;

	if (!fp->p || !fp->pushed)
		return;
	if (error)
		buf = frame_build_error(fp->push_type, fp->push_id, EIO,
					"the node failed it", &len);
	else
		buf = frame_build(fp->push_type, MER_FRAME_REPLY, fp->push_id,
				  NULL, 0, &ack.base, &len);
	if (frame_hdr_decode(buf, &h, &err) < 0)
		abort();
	fp->pushed = false;
	rpc_on_frame(fp->p, &h, buf + MER_FRAME_HDR_LEN,
		     buf + MER_FRAME_HDR_LEN + h.cred_len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct mctld *ctx = ctx_create();

	memset(peers, 0, sizeof(peers));
	while (in.left) {
		uint8_t op = fuzz_u8(&in);
		unsigned pi = op & 3, kind = op >> 5;
		uid_t uid = uids[(op >> 2) & 7];
		struct frame_hdr h;
		uint8_t *buf;
		bool bad;

		switch (kind) {
		case 2:
			push_reply(ctx, pi, (op >> 2) & 1);
			break;
		case 3:
			turn(ctx);
			break;
		case 4:
			close_peer(pi);
			break;
		case 5:
			mctld_tick(ctx, ctx->start_time + 30 * fuzz_u8(&in));
			break;
		default:
			if (take_frame(&in, &h, &buf, &bad) < 0) {
				in.left = 0;
				break;
			}
			if (bad) {
				close_peer(pi);
				break;
			}
			{
				struct peer *p = get_peer(ctx, pi);
				const uint8_t *cred = buf + MER_FRAME_HDR_LEN;

				if (h.flags & MER_FRAME_REPLY)
					rpc_on_frame(p, &h, cred,
						     cred + h.cred_len);
				else
					rpc_dispatch(ctx, p, &h, uid, uid,
						     cred + h.cred_len);
			}
			free(buf);
			if (peers[pi].close_due)
				close_peer(pi);
			if (kind != 0)
				turn(ctx);
			break;
		}
	}
	turn(ctx);
	mctld_destroy(ctx);
	memset(peers, 0, sizeof(peers));
	return 0;
}
