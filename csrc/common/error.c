/* error.c: the thread-local error slot behind sai_error_set(). */
#include <stdarg.h>
#include <stdio.h>

#include "sacroai/sai_common.h"

static _Thread_local char tls_message[SAI_ERROR_LEN];
static _Thread_local sai_status tls_status = SAI_OK;

sai_status sai_error_set(sai_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tls_message, sizeof tls_message, fmt, ap);
    va_end(ap);
    tls_status = status;
    return status;
}

const char *sai_error_message(void) { return tls_message; }
sai_status sai_error_status(void) { return tls_status; }

void sai_error_clear(void)
{
    tls_message[0] = '\0';
    tls_status = SAI_OK;
}
