/*-------------------------------------------------------------------------
 *
 * compat.h
 *	  Every PostgreSQL version shim finsec needs, in one place.
 *
 * The rest of the code never tests PG_VERSION_NUM.  finsec supports
 * PostgreSQL 15 (the Debian 12 server); support for a newer major version
 * is added here, not scattered through the sources.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_COMPAT_H
#define FINSEC_COMPAT_H

#if PG_VERSION_NUM < 150000
#error "finsec requires PostgreSQL 15 or later"
#endif

#endif							/* FINSEC_COMPAT_H */
