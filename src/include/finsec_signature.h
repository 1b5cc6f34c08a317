/*-------------------------------------------------------------------------
 *
 * finsec_signature.h
 *	  Signatures: registered signers (proof of origin) and signing with
 *	  keyring keys (proof of receipt).  Public C API.
 *
 * The functions the keyring calls to generate and check signing keys are
 * declared in finsec_keyring.h ("signing keys (src/signature)").
 * docs/signatures.md describes the model.
 *
 *-------------------------------------------------------------------------
 */
#ifndef FINSEC_SIGNATURE_H
#define FINSEC_SIGNATURE_H

/* Smallest RSA modulus accepted (finsec.signature_min_rsa_bits). */
extern int	finsec_signature_min_rsa_bits;
#define FINSEC_SIGNATURE_MIN_RSA_BITS_DEFAULT 2048

/* The floor no setting can lower: JR/T 0096.5 4.4.2 asks for RSA >= 1024. */
#define FINSEC_SIGNATURE_RSA_FLOOR	1024

/* GM/T 0009-2012 section 10: the SM2 user id when the parties agreed none. */
#define FINSEC_SM2_DEFAULT_ID		"1234567812345678"

/* GB/T 32918.2: ENTL is a 16-bit count of bits, so at most 8191 bytes. */
#define FINSEC_SM2_ID_MAXLEN		8191

extern void finsec_signature_define_settings(void);

#endif							/* FINSEC_SIGNATURE_H */
