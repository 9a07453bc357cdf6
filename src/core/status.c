#include "core/status.h"

const char *pl_strerror(int status)
{
    switch (status) {
    case PL_OK:
        return "success";
#define PL_STATUS_TEXT(name, value, text)                                                          \
    case PL_##name:                                                                                \
        return text;
        PL_STATUS_MAP(PL_STATUS_TEXT)
#undef PL_STATUS_TEXT
    }
    return "unknown status";
}

const char *pl_status_name(int status)
{
    switch (status) {
    case PL_OK:
        return "PL_OK";
#define PL_STATUS_NAME(name, value, text)                                                          \
    case PL_##name:                                                                                \
        return "PL_" #name;
        PL_STATUS_MAP(PL_STATUS_NAME)
#undef PL_STATUS_NAME
    }
    return "PL_UNKNOWN";
}
