/* cv.c - error code names. */
#include "cv.h"

const char *cv_strerror(enum cv_err e)
{
	switch (e) {
	case CV_OK: return "ok";
	case CV_ENOMEM: return "out of memory";
	case CV_EINVAL: return "invalid argument";
	case CV_ENOTFOUND: return "not found";
	case CV_EEXIST: return "already exists";
	case CV_ESTORE: return "store failure";
	case CV_EJSON: return "invalid JSON";
	case CV_ETOOBIG: return "too large";
	case CV_ESTATE: return "illegal state";
	case CV_EEXEC: return "program failed";
	case CV_ETIMEOUT: return "timed out";
	case CV_EAUTH: return "unauthorized";
	case CV_ENET: return "network failure";
	case CV_EBUSY: return "busy";
	case CV_EFULL: return "storage full";
	}
	return "unknown error";
}
