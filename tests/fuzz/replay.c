/* Runs a fuzz target's entry point on saved inputs, without libFuzzer, so that every input that once broke
 * a target stays a test. Linked with one target as tests/fuzz/fuzz_NAME_replay:
 *   fuzz_NAME_replay [FILE|DIR]...
 * With no argument (as under `make check`) the inputs are the files in
 * $TOP_SRCDIR/tests/fuzz/regressions/fuzz_NAME/, NAME coming from the program's own name. Exits 0 when every
 * input ran; a broken check in the target aborts, which fails the test. */
#include "fuzz.h"

#include <dirent.h>
#include <stdbool.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct stat st;
	if (f == NULL || fstat(fileno(f), &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (f != NULL)
			fclose(f);
		return -1;
	}
	/* a buffer of exactly the input's size, so that sanitizers see any over-read */
	size_t len = (size_t)st.st_size;
	uint8_t *data = malloc(len ? len : 1);
	bool ok = data != NULL && fread(data, 1, len, f) == len;
	fclose(f);
	if (!ok) {
		fprintf(stderr, "replay: %s: cannot read\n", path);
		free(data);
		return -1;
	}
	LLVMFuzzerTestOneInput(data, len);
	free(data);
	return 0;
}

static int only_files(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

/* Runs every file of dir, in name order. Returns the number run, or -1. */
static int run_dir(const char *dir)
{
	struct dirent **names;
	int n = scandir(dir, &names, only_files, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	int ran = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
		if (ran >= 0 && run_file(path) == 0)
			ran++;
		else
			ran = -1;
		free(names[i]);
	}
	free(names);
	return ran;
}

static int run_path(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (S_ISDIR(st.st_mode))
		return run_dir(path);
	return run_file(path) == 0 ? 1 : -1;
}

int main(int argc, char **argv)
{
	int total = 0;
	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			int n = run_path(argv[i]);
			if (n < 0)
				return 1;
			total += n;
		}
		printf("replay: %d inputs\n", total);
		return 0;
	}

	/* fuzz_NAME_replay (or libtool's lt-fuzz_NAME_replay) -> fuzz_NAME */
	const char *top = getenv("TOP_SRCDIR");
	const char *base = strrchr(argv[0], '/');
	base = base ? base + 1 : argv[0];
	if (strncmp(base, "lt-", 3) == 0)
		base += 3;
	const char *suffix = strstr(base, "_replay");
	if (top == NULL || suffix == NULL) {
		fprintf(stderr, "usage: %s FILE|DIR... (or set TOP_SRCDIR and run as fuzz_NAME_replay)\n", argv[0]);
		return 99; /* a hard error for the Automake test driver */
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/tests/fuzz/regressions/%.*s", top, (int)(suffix - base), base);
	total = run_dir(dir);
	if (total < 0)
		return 99;
	printf("replay: %s: %d inputs\n", dir, total);
	return 0;
}
