/* target module (placeholder so the library has a source). */
int target__placeholder(void);
int target__placeholder(void)
{
    return 0;
}
