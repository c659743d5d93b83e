/* directory module (placeholder so the library has a source). */
int directory__placeholder(void);
int directory__placeholder(void)
{
    return 0;
}
