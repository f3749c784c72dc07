#ifndef SOGET_VERSION_H
#define SOGET_VERSION_H
#ifndef SOGET_VERSION
#define SOGET_VERSION "0.1.0"
#endif
#endif
