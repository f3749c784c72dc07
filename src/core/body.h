/* Token and error bodies: small JSON objects whose top-level string (and
 * number) members soget reads, with libyajl. Knows nothing about Lua. */
#ifndef SOGET_BODY_H
#define SOGET_BODY_H

#include <stddef.h>
#include "error.h"
#include "visibility.h"

SOGET_HIDDEN_BEGIN

/* Reads an error body (HttpBusinessError: "code"/"message"; OAuth2:
 * "error"/"error_description"): fills code and msg (C strings, cut to
 * their sizes; a NUL byte from the body becomes '?') from the top-level
 * string members codekey and msgkey; the last one counts when a key is
 * repeated. Returns 1 when either was found, 0 otherwise (also when the
 * body is empty, not JSON or not an object). */
int soget_body_error_fields(const char *body, size_t len, const char *codekey,
                            char *code, size_t codesz, const char *msgkey, char *msg,
                            size_t msgsz);

/* Reads a token response: on success sets *tok to a malloc'ed copy of
 * access_token (the caller wipes and frees it) and *tok_len, and returns
 * expires_in (a number, or a string holding one; 0 when absent or not a
 * sane number of seconds). Otherwise fills e (kind "decode"; kind "auth"
 * when a token_type is given, not null, that is not Bearer in any case;
 * e->nomem out of memory) and returns -1. */
double soget_body_token(const char *body, size_t len, char **tok, size_t *tok_len,
                        soget_err *e);

SOGET_HIDDEN_END

#endif
