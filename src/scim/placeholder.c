/* scim module (placeholder so the library has a source). */
int scim__placeholder(void);
int scim__placeholder(void)
{
    return 0;
}
