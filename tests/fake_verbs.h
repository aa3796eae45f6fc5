/* SPDX-License-Identifier: MIT */
/* What tests/fake_verbs.c adds to the libibverbs calls it fakes. */
#ifndef ZT_FAKE_VERBS_H
#define ZT_FAKE_VERBS_H

#include <stdint.h>

/* what is live now, and the last ibv_reg_mr's access bits */
struct fake_verbs_live {
	int contexts, pds, mrs;
	int reg_calls; /* ibv_reg_mr calls since the library was loaded */
	unsigned last_access;
	const void *last_pd; /* the PD of the last ibv_reg_mr */
	int advise_calls;    /* ibv_advise_mr calls, and the last one's: */
	int last_advice;
	unsigned last_advise_flags;
	uint64_t last_sge_addr;
	uint32_t last_sge_length, last_sge_lkey;
	int last_dmabuf_fd; /* the fd of the last ibv_reg_dmabuf_mr that worked */
};
void fake_verbs_live(struct fake_verbs_live *out);

#endif
