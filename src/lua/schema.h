/* The HandlingUnit model as data, from the OpenAPI document's components:
 * decode.c builds pages by it, encode.c writes them back in its order.
 * The schemas themselves live in decode.c. */
#ifndef SOGET_SCHEMA_H
#define SOGET_SCHEMA_H

#include "core/visibility.h"

SOGET_HIDDEN_BEGIN

enum { F_STRING, F_INT, F_NUMBER, F_BOOL, F_OBJECT, F_ARRAY };

typedef struct soget_schema soget_schema;
typedef struct soget_field {
  const char *name;
  unsigned char len;   /* strlen(name) */
  unsigned char key;   /* decode.c's K_<name> */
  unsigned char type;  /* F_* */
  const soget_schema *sub;   /* F_OBJECT: its schema; F_ARRAY: the items' */
} soget_field;
struct soget_schema {
  const soget_field *fields;   /* in the document's order */
  int n;
  unsigned long arrays;        /* bit i: fields[i] is an F_ARRAY */
};

/* "page" (HandlingUnitItemsResponseModel), "unit" (HandlingUnit) or
 * "event" (EventInformation); NULL for any other name. */
const soget_schema *soget_schema_named(const char *name);

SOGET_HIDDEN_END

#endif
