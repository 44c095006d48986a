/* workspace.c: the per-thread scratch slots of the nn kernels.
 *
 * Each calling OS thread keeps a few grow-only buffers (im2col columns,
 * transformed weights, per-thread accumulators) so repeated layer calls do
 * not pay for fresh page faults.  sai_nn_workspace_release frees them.
 */
#include "nn_internal.h"

static _Thread_local sai_workspace g_ws[SAI_NN_WS_COUNT];

void *sai_nn_scratch(int slot, size_t nbytes)
{
    if (nbytes == 0) nbytes = 64;
    return sai_workspace_get(&g_ws[slot], nbytes);
}

void sai_nn_workspace_release(void)
{
    for (int i = 0; i < SAI_NN_WS_COUNT; i++) sai_workspace_release(&g_ws[i]);
}
