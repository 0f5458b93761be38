/*
 * submit_lib.c - submit jobs through the client library, to measure what
 * the controller can take apart from the cost of starting one mbatch
 * process per job.
 *
 *   submit_lib CLIENTS TOTAL [hold]
 *
 * Forks CLIENTS processes; each opens one connection and submits its share
 * of TOTAL trivial jobs one after another, each with a fresh munge
 * credential and each acknowledged only after mctld's commit, exactly as
 * mbatch's request.  Prints each job id acknowledged on stdout and
 * "submitted=N clients_failed=F elapsed_ms=T" on stderr.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "client.h"
#include "conf.h"
#include "util.h"

static int one_client(const struct conf *c, int n, int hold)
{
	static const char script[] = "#!/bin/sh\ntrue\n";
	Meridian__SubmitJobRequest req = MERIDIAN__SUBMIT_JOB_REQUEST__INIT;
	Meridian__JobDesc desc = MERIDIAN__JOB_DESC__INIT;
	Meridian__JobSpec spec = MERIDIAN__JOB_SPEC__INIT;
	char cwd[4096], *env[] = {"PATH=/usr/bin:/bin"};
	struct mer_error err;
	struct client *cl = client_create(c, &err);
	int errors = 0;

	if (!cl) {
		fprintf(stderr, "submit_lib: %s\n", err.text);
		return n;
	}
	if (!getcwd(cwd, sizeof(cwd)))
		strcpy(cwd, "/tmp");
	desc.name = "bench";
	desc.work_dir = cwd;
	desc.submit_dir = cwd;
	desc.std_out = "/dev/null";
	desc.hold = hold ? MERIDIAN__HOLD_KIND__HOLD_USER
			 : MERIDIAN__HOLD_KIND__HOLD_NONE;
	spec.script.data = (uint8_t *)script;
	spec.script.len = sizeof(script) - 1;
	spec.n_env = 1;
	spec.env = env;
	req.desc = &desc;
	req.spec = &spec;
	for (int i = 0; i < n; i++) {
		ProtobufCMessage *reply;
		if (client_call(cl, MERIDIAN__MSG_TYPE__MSG_SUBMIT_JOB,
				&req.base, &reply, 0, &err) < 0) {
			if (errors++ < 3)
				fprintf(stderr, "submit_lib: %s\n", err.text);
			continue;
		}
		printf("%u\n", ((Meridian__SubmitJobReply *)reply)->job_id);
		protobuf_c_message_free_unpacked(reply, NULL);
	}
	client_destroy(cl);
	return errors;
}

int main(int argc, char **argv)
{
	struct mer_error err;
	struct conf *c;
	int clients, total, hold, errors = 0, status;
	int64_t t0;

	if (argc < 3) {
		fprintf(stderr, "usage: submit_lib CLIENTS TOTAL [hold]\n");
		return 2;
	}
	clients = atoi(argv[1]);
	total = atoi(argv[2]);
	hold = argc > 3 && !strcmp(argv[3], "hold");
	if (clients < 1 || total < 1) {
		fprintf(stderr, "submit_lib: CLIENTS and TOTAL must be >= 1\n");
		return 2;
	}
	if (!(c = conf_load(conf_default_path(), &err))) {
		fprintf(stderr, "submit_lib: %s\n", err.text);
		return 1;
	}
	fflush(stdout);
	t0 = mer_mono_ms();
	for (int i = 0; i < clients; i++) {
		int share = total / clients + (i < total % clients ? 1 : 0);
		pid_t pid = fork();
		if (pid == 0) {
			int failed = one_client(c, share, hold);
			fflush(stdout); /* _exit does not flush stdio */
			_exit(failed ? 1 : 0);
		}
		if (pid < 0) {
			perror("submit_lib: fork");
			return 1;
		}
	}
	while (wait(&status) > 0)
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			errors++;
	fprintf(stderr, "submitted=%d clients_failed=%d elapsed_ms=%lld\n",
		total, errors, (long long)(mer_mono_ms() - t0));
	conf_free(c);
	return errors ? 1 : 0;
}
