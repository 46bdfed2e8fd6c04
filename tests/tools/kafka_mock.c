/* A Kafka cluster for the tests: librdkafka's mock brokers, in this process, on loopback ports.
 *
 *   kafka_mock [-n BROKERS] [-t TOPIC:PARTITIONS]... [-e TOPIC]... [-p N]
 *
 * Prints the bootstrap servers ("127.0.0.1:PORT,...") on one line and runs until SIGTERM or SIGINT.
 * -t creates a topic with that many partitions (others are created with one on first use); -e makes
 * TOPIC's metadata requests fail (TOPIC_AUTHORIZATION_FAILED); -p makes the next N produce requests fail
 * so (a topic the producer may not write to, as a broker with ACLs answers). SIGUSR1 takes every broker down (their
 * connections are closed and refused), SIGUSR2 brings them back up: a broker outage on cue. */
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	int brokers = 1, c;
	const char *topics[32], *errors[32];
	int n_topics = 0, n_errors = 0, produce_errors = 0;
	while ((c = getopt(argc, argv, "n:t:e:p:")) != -1) {
		if (c == 'n')
			brokers = atoi(optarg);
		else if (c == 't' && n_topics < 32)
			topics[n_topics++] = optarg;
		else if (c == 'e' && n_errors < 32)
			errors[n_errors++] = optarg;
		else if (c == 'p')
			produce_errors = atoi(optarg);
		else {
			fprintf(stderr,
				"usage: kafka_mock [-n BROKERS] [-t TOPIC:PARTITIONS]... [-e TOPIC]... [-p N]\n");
			return 2;
		}
	}
	if (brokers < 1 || brokers > 16) {
		fprintf(stderr, "kafka_mock: -n wants 1 to 16 brokers\n");
		return 2;
	}

	/* the signals are taken by sigwait() below: blocked before librdkafka starts its threads */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);

	char err[512];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "0", err, sizeof(err));
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	if (rk == NULL) {
		fprintf(stderr, "kafka_mock: %s\n", err);
		return 1;
	}
	rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, brokers);
	if (mc == NULL) {
		fprintf(stderr, "kafka_mock: cannot start the mock cluster\n");
		return 1;
	}
	for (int i = 0; i < n_topics; i++) {
		char name[256];
		const char *colon = strrchr(topics[i], ':');
		int parts = colon != NULL ? atoi(colon + 1) : 1;
		size_t n = colon != NULL ? (size_t)(colon - topics[i]) : strlen(topics[i]);
		if (n == 0 || n >= sizeof(name) || parts < 1) {
			fprintf(stderr, "kafka_mock: -t %s: want TOPIC:PARTITIONS\n", topics[i]);
			return 2;
		}
		memcpy(name, topics[i], n);
		name[n] = '\0';
		if (rd_kafka_mock_topic_create(mc, name, parts, brokers < 3 ? brokers : 3) != 0) {
			fprintf(stderr, "kafka_mock: cannot create topic %s\n", name);
			return 1;
		}
	}
	for (int i = 0; i < n_errors; i++)
		rd_kafka_mock_topic_set_error(mc, errors[i], RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);

	for (int i = 0; i < produce_errors; i++)
		rd_kafka_mock_push_request_errors(mc, 0 /* Produce */, 1, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	printf("%s\n", rd_kafka_mock_cluster_bootstraps(mc));
	fflush(stdout);

	for (;;) {
		int sig;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM || sig == SIGINT)
			break;
		for (int b = 1; b <= brokers; b++) {
			if (sig == SIGUSR1)
				rd_kafka_mock_broker_set_down(mc, b);
			else
				rd_kafka_mock_broker_set_up(mc, b);
		}
		fprintf(stderr, "kafka_mock: brokers %s\n", sig == SIGUSR1 ? "down" : "up");
	}
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	return 0;
}
