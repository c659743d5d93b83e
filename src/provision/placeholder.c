/* provision module (placeholder so the library has a source). */
int provision__placeholder(void);
int provision__placeholder(void)
{
    return 0;
}
