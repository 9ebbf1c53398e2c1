/* SPDX-License-Identifier: MIT */
/*
 * replay: a main() for a fuzz target without libFuzzer, so that the
 * committed corpora run in `make check` with gcc, in the normal and the
 * ASan/UBSan builds. Feeds every file of every directory given (default:
 * the target's corpus, REPLAY_CORPUS, fixed at build time) to
 * LLVMFuzzerTestOneInput once; prints how many, exits 1 if a corpus is
 * missing or empty (a crash aborts on its own).
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int replay_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d) {
		fprintf(stderr, "replay: cannot open corpus %s\n", dir);
		return -1;
	}
	int n = 0;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		char path[4096];
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		FILE *f = fopen(path, "rb");
		struct stat st;
		if (!f || fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
			if (f)
				fclose(f);
			continue;
		}
		size_t len = (size_t)st.st_size;
		uint8_t *buf = malloc(len ? len : 1);
		if (!buf || fread(buf, 1, len, f) != len) {
			fprintf(stderr, "replay: cannot read %s\n", path);
			fclose(f);
			free(buf);
			closedir(d);
			return -1;
		}
		fclose(f);
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	const char *dflt[] = {REPLAY_CORPUS};
	const char **dirs = argc > 1 ? (const char **)argv + 1 : dflt;
	int ndirs = argc > 1 ? argc - 1 : 1;
	int total = 0;
	for (int i = 0; i < ndirs; i++) {
		int n = replay_dir(dirs[i]);
		if (n <= 0) {
			fprintf(stderr, "replay: no inputs in %s\n", dirs[i]);
			return 1;
		}
		total += n;
	}
	printf("replay: %d inputs ran clean\n", total);
	return 0;
}
